using System.Net;
using Xunit;

namespace QuicPipe.Lab.Tests;

/// <summary>Which unsolicited senders get through to A's mapping once A has sent to R:7000.</summary>
public sealed class NatFilteringTests
{
    [LabTheory]
    [InlineData(NatKind.None, true, true)]
    [InlineData(NatKind.FullCone, true, true)]
    [InlineData(NatKind.AddressRestricted, true, false)]
    [InlineData(NatKind.PortRestricted, false, false)]
    [InlineData(NatKind.Symmetric, false, false)]
    [InlineData(NatKind.BareMasquerade, false, false)]
    public void Senders_A_did_not_contact_get_through_as_the_kind_says(NatKind kind, bool otherPortGetsThrough, bool otherAddressGetsThrough) =>
        LabRun.With(kind, NatKind.None, lab =>
        {
            using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
            using var contacted = new UdpEndpoint(lab, LabHost.R, NatLab.AddressOf(LabHost.R), 7000);
            using var otherPort = new UdpEndpoint(lab, LabHost.R, NatLab.AddressOf(LabHost.R), 7001);
            using var otherAddress = new UdpEndpoint(lab, LabHost.R, NatLab.RelaySecondAddress, 7000);
            a.Send(contacted.Local, "out");
            var mapping = contacted.Receive().From;

            contacted.Send(mapping, "reply");
            Assert.Equal(("reply", contacted.Local), a.Receive());

            otherPort.Send(mapping, "other port");
            AssertDelivery(a, otherPortGetsThrough, "other port", otherPort.Local);

            otherAddress.Send(mapping, "other address");
            AssertDelivery(a, otherAddressGetsThrough, "other address", otherAddress.Local);
        });

    private static void AssertDelivery(UdpEndpoint a, bool expected, string text, IPEndPoint from)
    {
        if (expected)
        {
            // The router translates the destination only: A sees the real sender.
            Assert.Equal((text, from), a.Receive());
        }
        else
        {
            Assert.Null(a.TryReceive(UdpEndpoint.Dropped));
        }
    }
}
