using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>Keep-alive, idle timeout, close reasons and per-connection stats.</summary>
public class LifetimeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Keep_alive_keeps_an_idle_connection_alive_past_the_idle_timeout()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o => o.IdleTimeout = Idle,
            client: o =>
            {
                o.IdleTimeout = Idle;
                o.KeepAliveInterval = TimeSpan.FromMilliseconds(300);
            });
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        await Task.Delay(TimeSpan.FromSeconds(2.5), timeout.Token);

        Assert.False(client.Closed.IsCompleted, client.CloseReason);
        Assert.False(server.Closed.IsCompleted, server.CloseReason);
        Assert.Null(client.CloseReason);

        // Still usable: one byte there and back.
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync(new byte[] { 42 }, endStream: true, timeout.Token);
        var accepted = await server.AcceptStreamAsync(timeout.Token);
        var read = await accepted.Input.ReadAtLeastAsync(1, timeout.Token);
        Assert.Equal(42, read.Buffer.FirstSpan[0]);
        await client.CloseAsync(0, timeout.Token);
    }

    [Fact]
    public async Task Without_keep_alive_an_idle_connection_ends_by_idle_timeout_with_a_clear_reason()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.IdleTimeout = Idle, client: o => o.IdleTimeout = Idle);
        // Taken before the handshake: its last packet starts the idle timer, and on a busy machine the await below
        // can resume most of an idle period after that packet (a run once measured 0.18 s from there).
        var started = DateTime.UtcNow;
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        // An idle timeout is an ordinary end: Closed completes without an exception, CloseReason says why.
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(5), timeout.Token);
        await server.Closed.WaitAsync(TimeSpan.FromSeconds(5), timeout.Token);

        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(10));
        Assert.Contains("idle timeout", client.CloseReason, StringComparison.Ordinal);
        Assert.Contains("IdleTimeout", server.CloseReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_close_reason_reaches_the_peer()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        await client.CloseAsync(7, "going away: maintenance", timeout.Token);

        var error = await Assert.ThrowsAsync<QuicConnectionException>(() => server.Closed.WaitAsync(timeout.Token));
        Assert.Contains("application error 7", error.Message, StringComparison.Ordinal);
        Assert.Equal(7, error.PeerApplicationErrorCode);
        Assert.Contains("\"going away: maintenance\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(error.Message, server.CloseReason);
        Assert.Contains("closed locally with application error 7, reason \"going away: maintenance\"", client.CloseReason, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => client.CloseAsync(1, new string('x', QuicConnection.MaxCloseReasonBytes + 1), timeout.Token));
    }

    [Fact]
    public async Task Stats_show_rtt_congestion_window_and_bytes_after_a_transfer()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        const int Size = 2 * 1024 * 1024;

        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var receiving = Task.Run(async () =>
        {
            var accepted = await server.AcceptStreamAsync(timeout.Token);
            long total = 0;
            while (true)
            {
                var result = await accepted.Input.ReadAsync(timeout.Token);
                total += result.Buffer.Length;
                accepted.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return total;
                }
            }
        });
        var payload = RandomNumberGenerator.GetBytes(Size);
        await stream.WriteAsync(payload, endStream: true, timeout.Token);
        Assert.Equal(Size, await receiving);

        var sent = await client.GetStatsAsync(timeout.Token);
        var received = await server.GetStatsAsync(timeout.Token);

        Assert.True(sent.SmoothedRtt > TimeSpan.Zero, $"smoothed RTT {sent.SmoothedRtt}");
        Assert.True(sent.MinRtt > TimeSpan.Zero, $"min RTT {sent.MinRtt}");
        Assert.True(sent.LatestRtt > TimeSpan.Zero, $"latest RTT {sent.LatestRtt}");
        Assert.True(sent.MinRtt <= sent.SmoothedRtt + sent.RttVariation * 4, $"min {sent.MinRtt} smoothed {sent.SmoothedRtt}");
        Assert.True(sent.CongestionWindow > 0);
        Assert.True(sent.BytesSent > Size, $"client sent {sent.BytesSent} bytes");
        Assert.True(received.BytesReceived > Size, $"server received {received.BytesReceived} bytes");
        Assert.True(sent.PacketsSent > Size / 1500);
        Assert.True(received.PacketsReceived > Size / 1500);
        Assert.True(sent.BytesReceived > 0 && received.BytesSent > 0, "acknowledgements flowed back");
        Assert.InRange(sent.PacketsLost, 0, sent.PacketsSent);

        // After the end: the last values, not zeros.
        await client.CloseAsync(0, timeout.Token);
        var final = await client.GetStatsAsync(timeout.Token);
        Assert.True(final.BytesSent >= sent.BytesSent);
    }
}
