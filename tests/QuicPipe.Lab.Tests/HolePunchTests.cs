using System.Net;
using Xunit;

namespace QuicPipe.Lab.Tests;

/// <summary>
/// The lab can host the NAT traversal matrix: peers that learn each other's mapping from R and send
/// to it at the same time get through endpoint-independent NATs, and not through symmetric ones.
/// </summary>
public sealed class HolePunchTests
{
    [LabTheory]
    [InlineData(NatKind.PortRestricted, NatKind.PortRestricted)]
    [InlineData(NatKind.FullCone, NatKind.AddressRestricted)]
    public void Peers_behind_endpoint_independent_nats_reach_each_other(NatKind natA, NatKind natB) =>
        LabRun.With(natA, natB, lab =>
        {
            using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
            using var b = new UdpEndpoint(lab, LabHost.B, NatLab.AddressOf(LabHost.B), 5000);
            var (mappingA, mappingB) = Punch(lab, a, b);

            Assert.Equal(("from b", mappingB), a.Receive());
            Assert.Equal(("from a", mappingA), b.Receive());
        });

    [LabTheory]
    [InlineData(NatKind.Symmetric, NatKind.Symmetric)]
    [InlineData(NatKind.Symmetric, NatKind.PortRestricted)]
    public void Peers_behind_a_symmetric_nat_do_not_reach_each_other(NatKind natA, NatKind natB) =>
        LabRun.With(natA, natB, lab =>
        {
            using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
            using var b = new UdpEndpoint(lab, LabHost.B, NatLab.AddressOf(LabHost.B), 5000);
            Punch(lab, a, b);

            Assert.Null(a.TryReceive(UdpEndpoint.Dropped));
            Assert.Null(b.TryReceive(UdpEndpoint.Dropped));
        });

    /// <summary>
    /// Routers without an input filter (bare-masquerade, with core's routed hop between them): A's first packet reaches
    /// natB before B sent anything, natB takes it for itself, and B's own packet to A then leaves from another port,
    /// which natA does not know: nothing gets through either way. The same exchange with a first packet whose TTL (2)
    /// passes the sender's router and expires at core opens both routers, and then both directions work.
    /// </summary>
    [LabFact]
    public void Behind_routers_without_an_input_filter_a_first_packet_needs_a_ttl_that_expires_between_them()
    {
        LabRun.With(NatKind.BareMasquerade, NatKind.BareMasquerade, lab =>
        {
            using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
            using var b = new UdpEndpoint(lab, LabHost.B, NatLab.AddressOf(LabHost.B), 5000);
            Punch(lab, a, b);

            Assert.Null(a.TryReceive(UdpEndpoint.Dropped));
            Assert.Null(b.TryReceive(UdpEndpoint.Dropped));
        });

        LabRun.With(NatKind.BareMasquerade, NatKind.BareMasquerade, lab =>
        {
            using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
            using var b = new UdpEndpoint(lab, LabHost.B, NatLab.AddressOf(LabHost.B), 5000);
            var (mappingA, mappingB) = Learn(lab, a, b);

            a.Send(mappingB, "opening a", ttl: 2);
            b.Send(mappingA, "opening b", ttl: 2);
            Assert.Null(b.TryReceive(UdpEndpoint.Dropped)); // expired at core
            a.Send(mappingB, "from a");
            b.Send(mappingA, "from b");

            Assert.Equal(("from a", mappingA), b.Receive());
            Assert.Equal(("from b", mappingB), a.Receive());
        });
    }

    /// <summary>Both peers learn their mappings from R, then send to each other's, A, B, A.</summary>
    private static (IPEndPoint MappingA, IPEndPoint MappingB) Punch(NatLab lab, UdpEndpoint a, UdpEndpoint b)
    {
        var (mappingA, mappingB) = Learn(lab, a, b);
        a.Send(mappingB, "from a"); // dropped by B's NAT, but opens A's
        b.Send(mappingA, "from b");
        a.Send(mappingB, "from a");
        return (mappingA, mappingB);
    }

    /// <summary>Both peers send to R, which sees their mappings.</summary>
    private static (IPEndPoint MappingA, IPEndPoint MappingB) Learn(NatLab lab, UdpEndpoint a, UdpEndpoint b)
    {
        using var r = new UdpEndpoint(lab, LabHost.R, NatLab.AddressOf(LabHost.R), 7000);
        a.Send(r.Local, "a");
        var mappingA = ReceiveFrom(r, "a");
        b.Send(r.Local, "b");
        var mappingB = ReceiveFrom(r, "b");
        return (mappingA, mappingB);
    }

    private static IPEndPoint ReceiveFrom(UdpEndpoint r, string text)
    {
        var (received, from) = r.Receive();
        Assert.Equal(text, received);
        return from;
    }
}
