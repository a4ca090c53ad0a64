using System.Net;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>The peer timeout (app-level liveness) and the QUIC idle timeout (dead paths only) are checked together.</summary>
public sealed class PeerTimeoutOptionsTests
{
    private static PeerEndpointOptions Options() => new() { Identity = NodeIdentity.Generate(), Relay = new IPEndPoint(IPAddress.Loopback, 1) };

    [Fact]
    public void By_default_the_QUIC_idle_timeout_outlasts_the_peer_timeout_by_far()
    {
        var options = Options();
        options.Validate();

        // A relay that restarts stalls a relayed connection for seconds: only the peer timeout may end it, and that
        // pauses while the relay does not answer.
        Assert.Equal(TimeSpan.FromSeconds(6), options.PeerTimeout);
        Assert.True(options.IdleTimeout >= 4 * options.PeerTimeout, $"idle timeout {options.IdleTimeout}");
        Assert.True(options.KeepAliveInterval < options.PeerTimeout / 2);
    }

    [Fact]
    public void An_idle_timeout_shorter_than_the_peer_timeout_is_refused()
    {
        var options = Options();
        options.IdleTimeout = TimeSpan.FromSeconds(5);
        var e = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(nameof(PeerEndpointOptions.IdleTimeout), e.ParamName);
    }

    [Fact]
    public void A_peer_timeout_under_1_s_or_not_above_the_keep_alive_interval_is_refused()
    {
        var options = Options();
        options.PeerTimeout = TimeSpan.FromMilliseconds(900);
        Assert.Equal(nameof(PeerEndpointOptions.PeerTimeout), Assert.Throws<ArgumentOutOfRangeException>(options.Validate).ParamName);
        options.PeerTimeout = options.KeepAliveInterval;
        Assert.Equal(nameof(PeerEndpointOptions.PeerTimeout), Assert.Throws<ArgumentOutOfRangeException>(options.Validate).ParamName);
    }
}
