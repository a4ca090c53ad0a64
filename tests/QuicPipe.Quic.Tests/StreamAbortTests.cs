using System.Buffers;
using System.Net;
using System.Text;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class StreamAbortTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Aborting_the_write_side_resets_the_peers_Input_with_the_error_code()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (stream, incoming) = await OpenStreamAsync(pair, timeout.Token);
        var first = await incoming.Input.ReadAtLeastAsync(5, timeout.Token);
        incoming.Input.AdvanceTo(first.Buffer.End);

        await stream.AbortAsync(42, QuicAbortDirection.Write, timeout.Token);

        var reset = await Assert.ThrowsAsync<QuicStreamAbortedException>(async () => await incoming.Input.ReadAsync(timeout.Token));
        Assert.Equal(42, reset.ErrorCode);
        Assert.True(reset.ByPeer);
        var local = await Assert.ThrowsAsync<QuicStreamAbortedException>(() => stream.WriteAsync("more"u8.ToArray(), cancellationToken: timeout.Token).AsTask());
        Assert.Equal(42, local.ErrorCode);
        Assert.False(local.ByPeer);

        // Only the write side was aborted: the other direction still works, to its FIN.
        await incoming.WriteAsync("still here"u8.ToArray(), endStream: true, timeout.Token);
        Assert.Equal("still here", Encoding.ASCII.GetString(await StreamTransfer.ReadToEndAsync(stream.Input, timeout.Token)));
    }

    [Fact]
    public async Task Aborting_the_read_side_sends_STOP_SENDING_and_the_peers_writes_fail()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (stream, incoming) = await OpenStreamAsync(pair, timeout.Token);

        await incoming.AbortAsync(77, QuicAbortDirection.Read, timeout.Token);

        var local = await Assert.ThrowsAsync<QuicStreamAbortedException>(async () =>
        {
            while (true)
            {
                _ = await incoming.Input.ReadAsync(timeout.Token);
            }
        });
        Assert.Equal(77, local.ErrorCode);
        Assert.False(local.ByPeer);

        // The sender learns of it once its data can no longer go out; every write after that fails.
        var stopped = await Assert.ThrowsAsync<QuicStreamAbortedException>(async () =>
        {
            while (true)
            {
                await stream.WriteAsync(new byte[1024], cancellationToken: timeout.Token);
                await Task.Delay(10, timeout.Token);
            }
        });
        Assert.True(stopped.ByPeer);
        Assert.True(stopped.ErrorCode is null or 77, $"error code {stopped.ErrorCode}");
        await Assert.ThrowsAsync<QuicStreamAbortedException>(() => stream.WriteAsync(new byte[1], cancellationToken: timeout.Token).AsTask());

        // The reverse direction is untouched.
        await incoming.WriteAsync("reply"u8.ToArray(), endStream: true, timeout.Token);
        Assert.Equal("reply", Encoding.ASCII.GetString(await StreamTransfer.ReadToEndAsync(stream.Input, timeout.Token)));
    }

    [Fact]
    public async Task Aborting_both_sides_reaches_the_peer_in_both_directions()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (stream, incoming) = await OpenStreamAsync(pair, timeout.Token);

        await stream.AbortAsync(5, cancellationToken: timeout.Token);

        var reset = await Assert.ThrowsAsync<QuicStreamAbortedException>(async () =>
        {
            while (true)
            {
                var result = await incoming.Input.ReadAsync(timeout.Token);
                incoming.Input.AdvanceTo(result.Buffer.End);
            }
        });
        Assert.Equal(5, reset.ErrorCode);
        var stopped = await Assert.ThrowsAsync<QuicStreamAbortedException>(async () =>
        {
            while (true)
            {
                await incoming.WriteAsync(new byte[1024], cancellationToken: timeout.Token);
                await Task.Delay(10, timeout.Token);
            }
        });
        Assert.True(stopped.ByPeer);
        var local = await Assert.ThrowsAsync<QuicStreamAbortedException>(async () => await stream.Input.ReadAsync(timeout.Token));
        Assert.Equal(5, local.ErrorCode);
        Assert.False(local.ByPeer);
    }

    [Fact]
    public async Task Half_close_ends_one_direction_while_the_other_carries_on()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);

        await stream.WriteAsync("request"u8.ToArray(), endStream: true, timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        Assert.Equal("request", Encoding.ASCII.GetString(await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token)));
        var afterFin = await Assert.ThrowsAsync<QuicConnectionException>(() => stream.WriteAsync("late"u8.ToArray(), cancellationToken: timeout.Token).AsTask());
        Assert.Contains("Cannot write", afterFin.Message, StringComparison.Ordinal);

        // The server's direction is still open after the client's FIN.
        await incoming.WriteAsync("resp"u8.ToArray(), cancellationToken: timeout.Token);
        var partial = await stream.Input.ReadAtLeastAsync(4, timeout.Token);
        Assert.False(partial.IsCompleted);
        Assert.Equal("resp", Encoding.ASCII.GetString(partial.Buffer.ToArray()));
        stream.Input.AdvanceTo(partial.Buffer.End);
        await incoming.WriteAsync("onse"u8.ToArray(), endStream: true, timeout.Token);
        Assert.Equal("onse", Encoding.ASCII.GetString(await StreamTransfer.ReadToEndAsync(stream.Input, timeout.Token)));
    }

    /// <summary>Connects the pair and opens one stream the server has accepted (it carries "hello", so the server sees it).</summary>
    private static async Task<(QuicStream Client, QuicStream Server)> OpenStreamAsync(LoopbackPair pair, CancellationToken cancellationToken)
    {
        var (client, server) = await pair.ConnectPairAsync(cancellationToken);
        var stream = await client.OpenBidirectionalStreamAsync(cancellationToken);
        await stream.WriteAsync("hello"u8.ToArray(), cancellationToken: cancellationToken);
        return (stream, await server.AcceptStreamAsync(cancellationToken));
    }
}
