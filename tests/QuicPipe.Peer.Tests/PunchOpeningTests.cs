using QuicPipe.Peer.Direct;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>Which hole-punch pings leave with the low opening TTL (docs/nat-traversal.md, section 3).</summary>
public sealed class PunchOpeningTests
{
    [Fact]
    public void The_dialers_first_two_sends_are_opening_ones_and_the_rest_full()
    {
        var opening = PunchOpening.ForDialer(2);

        Assert.Equal(2, opening.HopLimitFor(0, TimeSpan.Zero, pinged: false));
        Assert.Equal(2, opening.HopLimitFor(1, TimeSpan.FromMilliseconds(50), pinged: true));
        Assert.Equal(0, opening.HopLimitFor(2, TimeSpan.FromMilliseconds(150), pinged: false));
    }

    [Fact]
    public void The_accepter_stays_low_until_the_dialers_ping_arrived_or_2_s_passed()
    {
        var opening = PunchOpening.ForAccepter(3);

        Assert.Equal(3, opening.HopLimitFor(0, TimeSpan.Zero, pinged: false));
        Assert.Equal(3, opening.HopLimitFor(5, TimeSpan.FromMilliseconds(1900), pinged: false));
        Assert.Equal(0, opening.HopLimitFor(1, TimeSpan.FromMilliseconds(50), pinged: true));
        Assert.Equal(0, opening.HopLimitFor(6, TimeSpan.FromSeconds(2), pinged: false));
    }

    [Fact]
    public void A_hop_limit_of_0_sends_every_ping_with_the_default()
    {
        Assert.Equal(0, PunchOpening.ForDialer(0).HopLimitFor(0, TimeSpan.Zero, pinged: false));
        Assert.Equal(0, PunchOpening.ForAccepter(0).HopLimitFor(0, TimeSpan.Zero, pinged: false));
        Assert.Equal(0, PunchOpening.None.HopLimitFor(0, TimeSpan.Zero, pinged: false));
    }

    [Fact]
    public void The_option_is_0_to_255()
    {
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1) };
        options.PunchOpeningTtl = 256;
        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        options.PunchOpeningTtl = -1;
        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        options.PunchOpeningTtl = 0;
        options.Validate();
    }
}
