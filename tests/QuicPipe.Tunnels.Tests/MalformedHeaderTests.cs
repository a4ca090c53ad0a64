using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

public class MalformedHeaderTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public static TheoryData<string, byte[], bool, TunnelStatus> BadStreams(int allowedPort) => new()
    {
        { "garbage", [0xff, 0x13, 0x37, 0x00, 0x42, 0x42, 0x42, 0x42], false, TunnelStatus.BadHeader },
        { "unknown version", [0x02, (byte)(allowedPort >> 8), (byte)allowedPort, 0x00], false, TunnelStatus.BadHeader },
        { "truncated then FIN", [0x01, (byte)(allowedPort >> 8)], true, TunnelStatus.BadHeader },
        { "truncated host then FIN", [0x01, (byte)(allowedPort >> 8), (byte)allowedPort, 0x09, (byte)'l', (byte)'o'], true, TunnelStatus.BadHeader },
        { "truncated, never finished", [0x01], false, TunnelStatus.BadHeader },
        { "port zero", [0x01, 0x00, 0x00, 0x00], false, TunnelStatus.BadHeader },
        { "bad host character", [0x01, (byte)(allowedPort >> 8), (byte)allowedPort, 0x03, (byte)'a', (byte)'/', (byte)'b'], false, TunnelStatus.BadHeader },
        { "disallowed port", [0x01, (byte)((allowedPort + 1) >> 8), (byte)(allowedPort + 1), 0x00], false, TunnelStatus.NotAllowed },
        { "disallowed host", [0x01, (byte)(allowedPort >> 8), (byte)allowedPort, 0x07, .. "example"u8], false, TunnelStatus.NotAllowed },
    };

    [Fact]
    public async Task Every_malformed_or_disallowed_header_gets_its_documented_status_and_stop_code_and_the_exposer_keeps_serving()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(
            o =>
            {
                o.AllowedPorts.Add(echo.Port);
                o.HeaderTimeout = TimeSpan.FromMilliseconds(500);
            },
            timeout.Token);

        foreach (var row in BadStreams(echo.Port))
        {
            var name = (string)row[0];
            var bytes = (byte[])row[1];
            var fin = (bool)row[2];
            var expected = (TunnelStatus)row[3];
            var stream = await tunnel.Client.OpenBidirectionalStreamAsync(timeout.Token);
            await stream.WriteAsync(bytes, endStream: fin, timeout.Token);

            // The answer: exactly one status byte, then FIN.
            var answer = await ReadToEndAsync(stream.Input, timeout.Token);
            Assert.True(answer.Length == 1 && answer[0] == (byte)expected, $"{name}: answer [{string.Join(' ', answer)}]");

            if (!fin)
            {
                // STOP_SENDING (code = the status; ngtcp2 0.12 does not report a peer's STOP_SENDING code): our
                // writes end with an abort by the peer.
                var stopped = await Assert.ThrowsAsync<QuicStreamAbortedException>(async () =>
                {
                    while (true)
                    {
                        await stream.WriteAsync(new byte[1024], cancellationToken: timeout.Token);
                        await Task.Delay(10, timeout.Token);
                    }
                });
                Assert.True(stopped.ByPeer, name);
                Assert.True(stopped.ErrorCode is null || stopped.ErrorCode == (long)expected, $"{name}: code {stopped.ErrorCode}");
            }
        }

        Assert.Equal(BadStreams(echo.Port).Count, tunnel.Rejections.Count);
        Assert.Empty(echo.ClientPorts);

        // Still serving: a good header through the same connection works.
        await using var forwarder = tunnel.Forward(echo.Port);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
        await client.SendAsync("ok?"u8.ToArray(), SocketFlags.None, timeout.Token);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("ok?<eof>"u8.ToArray(), await TcpOverQuicTests.ReadToEndAsync(client, timeout.Token));
    }

    [Fact]
    public async Task A_stream_reset_by_the_forwarding_side_during_the_header_is_dropped_quietly()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        var stream = await tunnel.Client.OpenBidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync(new byte[] { 0x01, 0x00 }, cancellationToken: timeout.Token);
        await stream.AbortAsync(TunnelErrorCodes.TunnelClosing, QuicAbortDirection.Both, timeout.Token);

        await using var forwarder = tunnel.Forward(echo.Port);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
        await client.SendAsync("still"u8.ToArray(), SocketFlags.None, timeout.Token);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("still<eof>"u8.ToArray(), await TcpOverQuicTests.ReadToEndAsync(client, timeout.Token));
    }

    private static async Task<byte[]> ReadToEndAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                input.AdvanceTo(result.Buffer.End);
                return bytes;
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
