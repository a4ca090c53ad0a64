using System.Net;
using Xunit;

namespace QuicPipe.Lab.Tests;

/// <summary>What address and port R sees when A sends from one local port to several destinations.</summary>
public sealed class NatMappingTests
{
    private const int LocalPort = 5000; // outside the routers' external range, so never kept as is

    [LabFact]
    public void None_shows_As_own_address_and_port() => LabRun.With(NatKind.None, NatKind.None, lab =>
    {
        var seen = SendToThreeDestinations(lab);

        Assert.All(seen, from => Assert.Equal(new IPEndPoint(NatLab.AddressOf(LabHost.A), LocalPort), from));
    });

    [LabTheory]
    [InlineData(NatKind.FullCone)]
    [InlineData(NatKind.AddressRestricted)]
    [InlineData(NatKind.PortRestricted)]
    [InlineData(NatKind.BareMasquerade)]
    public void Endpoint_independent_kinds_show_one_external_port_to_every_destination(NatKind kind) =>
        LabRun.With(kind, NatKind.None, lab =>
        {
            var seen = SendToThreeDestinations(lab);

            Assert.All(seen, from => Assert.Equal(NatLab.AddressOf(LabHost.NatA), from.Address));
            Assert.InRange(seen[0].Port, 20000, 29999);
            Assert.All(seen, from => Assert.Equal(seen[0].Port, from.Port));
        });

    [LabFact]
    public void Symmetric_shows_each_destination_its_own_external_port() => LabRun.With(NatKind.Symmetric, NatKind.None, lab =>
    {
        var seen = SendToThreeDestinations(lab);

        Assert.All(seen, from => Assert.Equal(NatLab.AddressOf(LabHost.NatA), from.Address));
        Assert.All(seen, from => Assert.InRange(from.Port, 20000, 29999));
        // Endpoint-independent mapping would show one port to all three. Random draws from 10,000 ports
        // can coincide (a pair about once in 3,000 runs; all three about once in 10^8), so "not all the
        // same" is the claim that cannot flake yet still fails for any endpoint-independent NAT.
        Assert.True(seen.Select(from => from.Port).Distinct().Count() >= 2, $"all three destinations saw port {seen[0].Port}");
    });

    /// <summary>A sends from one local port to R:7000, R:7001 and R's second address; returns what each saw.</summary>
    private static IPEndPoint[] SendToThreeDestinations(NatLab lab)
    {
        using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), LocalPort);
        using var r1 = new UdpEndpoint(lab, LabHost.R, NatLab.AddressOf(LabHost.R), 7000);
        using var r2 = new UdpEndpoint(lab, LabHost.R, NatLab.AddressOf(LabHost.R), 7001);
        using var other = new UdpEndpoint(lab, LabHost.R, NatLab.RelaySecondAddress, 7000);
        UdpEndpoint[] destinations = [r1, r2, other];
        foreach (var destination in destinations)
        {
            a.Send(destination.Local, "hello");
        }

        return destinations.Select(destination => destination.Receive().From).ToArray();
    }
}
