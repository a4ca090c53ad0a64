using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

public class PeerTunnelConnectorTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_peer_is_dialed_once_for_many_tunnels_and_a_failed_dial_is_not_kept()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        var dials = 0;
        TunnelFixture? tunnel = null;
        await using var proxy = await ProxyFixture.StartAsync(
            o => o.AllowedPorts.Add(echo.Port),
            timeout.Token,
            dial: (_, _) => Interlocked.Increment(ref dials) == 1
                ? throw new PeerDialException(PeerTunnelOutcome.PeerUnreachable, "first dial fails")
                : Task.FromResult(tunnel!.Client));
        tunnel = proxy.Tunnel;
        var peer = proxy.Tunnel.Client.RemoteNodeId!.Value;

        var (failed, none) = await proxy.Connector.ConnectAsync(peer, echo.Port, timeout.Token);
        Assert.Equal(PeerTunnelOutcome.PeerUnreachable, failed);
        Assert.Null(none);

        // The failed entry is dropped by a continuation of the dial: give it a moment on a busy machine.
        Assert.True(SpinWait.SpinUntil(() => proxy.Connector.PeerCount == 0, TimeSpan.FromSeconds(5)));

        for (var i = 0; i < 5; i++)
        {
            var (outcome, stream) = await proxy.Connector.ConnectAsync(peer, echo.Port, timeout.Token);
            Assert.Equal(PeerTunnelOutcome.Connected, outcome);
            await stream!.AbortAsync(TunnelErrorCodes.None, QuicAbortDirection.Both);
            await stream.Input.CompleteAsync();
        }

        Assert.Equal(2, dials);
        Assert.Equal(1, proxy.Connector.PeerCount);
    }

    [Fact]
    public async Task Many_failing_peers_leave_nothing_behind()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var connector = new PeerTunnelConnector(
            (_, _) => Task.FromException<QuicConnection>(new InvalidOperationException("no such peer")),
            new PeerTunnelConnectorOptions());

        for (var i = 0; i < 50; i++)
        {
            var (outcome, _) = await connector.ConnectAsync(NodeIdentity.Generate().NodeId, 80, timeout.Token);
            Assert.Equal(PeerTunnelOutcome.PeerUnreachable, outcome);
        }

        Assert.True(SpinWait.SpinUntil(() => connector.PeerCount == 0, TimeSpan.FromSeconds(5)), $"{connector.PeerCount} peers kept");
    }
}
