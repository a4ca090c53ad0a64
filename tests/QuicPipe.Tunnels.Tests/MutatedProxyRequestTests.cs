using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// Valid requests with random damage (bytes changed, dropped, inserted, cut, padded past the head limit), sent in
/// random pieces, with or without a half-close: whatever comes of each, the proxy ends it within the header timeout
/// plus its answer's drain, answers every HTTP client that waited, and afterwards holds no slot and still serves.
/// </summary>
public class MutatedProxyRequestTests
{
    private const int Cases = 150;
    private static readonly TimeSpan HeaderTimeout = TimeSpan.FromMilliseconds(500);

    // Header timeout, a one-second drain after an answer, a dial to a peer on loopback: far less on a busy machine.
    private static readonly TimeSpan EndsWithin = TimeSpan.FromSeconds(15);

    private static readonly byte[] SocksSucceeded = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];

    // Bytes that mean something to one of the parsers: line ends, NUL, separators, SOCKS versions and "no method".
    private static readonly byte[] Meaningful = [(byte)'\r', (byte)'\n', 0, (byte)' ', (byte)':', 5, 1, 0xFF];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Damaged_requests_never_hang_an_HTTP_client_that_waits_always_gets_a_status_and_no_slot_is_kept(bool credentials)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(
            o => o.AllowedPorts.Add(echo.Port),
            timeout.Token,
            o =>
            {
                o.HeaderTimeout = HeaderTimeout;
                o.Credentials = credentials ? new ProxyCredentials("u", "p") : null;
            });
        byte[] socksRequest = ProxyFixture.SocksConnect(proxy.PeerHost, echo.Port);
        byte[][] http =
        [
            Encoding.ASCII.GetBytes(proxy.Connect(echo.Port, "Proxy-Authorization: Basic " + Convert.ToBase64String("u:p"u8) + "\r\n")),
            Encoding.ASCII.GetBytes($"GET http://{proxy.PeerHost}:{echo.Port}/ HTTP/1.1\r\nHost: x\r\n\r\n"),
        ];
        byte[][] socks =
        [
            [5, 1, 0, .. socksRequest],
            [5, 2, 0, 2, 1, 1, (byte)'u', 1, (byte)'p', .. socksRequest],
        ];

        // Seeded: a failure names its case, and the same damage comes back on the next run.
        await Parallel.ForAsync(0, 2 * Cases, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = timeout.Token }, async (i, cancellationToken) =>
        {
            var random = new Random(i);
            var isHttp = i % 2 == 0;
            var seeds = isHttp ? http : socks;
            var bytes = Damage(seeds[random.Next(seeds.Length)], random);
            var halfClose = random.Next(2) == 0;
            var endPoint = isHttp ? proxy.Http.LocalEndPoint : proxy.Socks.LocalEndPoint;
            var received = await ExchangeAsync(endPoint, bytes, halfClose, random, isHttp ? "HTTP/1.1 200 "u8.ToArray() : SocksSucceeded, cancellationToken);
            var what = $"case {i} ({(isHttp ? "HTTP" : "SOCKS5")}, half-close {halfClose}): sent {Convert.ToHexString(bytes[..Math.Min(bytes.Length, 80)])}";
            Assert.True(received is not null, $"{what}: not ended within {EndsWithin.TotalSeconds} s");
            if (isHttp && !halfClose)
            {
                // Only a client that half-closed may be closed without a status (a head cut short by FIN is not answered).
                Assert.True(received.AsSpan().StartsWith("HTTP/1.1 "u8), $"{what}: answered '{Encoding.Latin1.GetString(received)}'");
            }
        });

        await TunnelFixture.EventuallyAsync(() => proxy.Http.ActiveConnections == 0 && proxy.Socks.ActiveConnections == 0, "every connection released", timeout.Token);
        var (good, head) = await proxy.HttpAsync(proxy.Connect(echo.Port, "Proxy-Authorization: Basic dTpw\r\n"), timeout.Token);
        using (good)
        {
            Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
            await HttpProxyTests.AssertEchoesAsync(good, timeout.Token);
        }
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> in random pieces while reading until the proxy ends the connection (reading from
    /// the start, so that an answer is in hand before a reset of what we still sent could discard it). A client that
    /// gets through (<paramref name="success"/> arrives) and has not half-closed does so once it has sent everything, so
    /// that its tunnel ends too. Returns what it received, or null if the connection was still open after <see cref="EndsWithin"/>.
    /// </summary>
    private static async Task<byte[]?> ExchangeAsync(IPEndPoint endPoint, byte[] bytes, bool halfClose, Random random, byte[] success, CancellationToken cancellationToken)
    {
        using var client = await TunnelFixture.ConnectTcpAsync(endPoint, cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(EndsWithin);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var receiving = ReceiveToEndAsync(client, halfClose ? null : success, sent.Task, limit.Token);
        try
        {
            try
            {
                for (var offset = 0; offset < bytes.Length;)
                {
                    var piece = Math.Min(bytes.Length - offset, 1 + random.Next(bytes.Length));
                    await client.SendAsync(bytes.AsMemory(offset, piece), SocketFlags.None, limit.Token);
                    offset += piece;
                    await Task.Delay(random.Next(3) * 10, limit.Token);
                }

                if (halfClose)
                {
                    client.Shutdown(SocketShutdown.Send);
                }
            }
            catch (SocketException)
            {
                // The proxy closed while we still sent: what it answered before is being read.
            }
            finally
            {
                sent.TrySetResult();
            }

            return await receiving;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Reads until the end; half-closes after <paramref name="sent"/> once <paramref name="success"/> (if any) arrives.</summary>
    private static async Task<byte[]> ReceiveToEndAsync(Socket client, byte[]? success, Task sent, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        var buffer = new byte[16 * 1024];
        var finished = false;
        try
        {
            while (true)
            {
                var read = await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    return [.. received];
                }

                received.AddRange(buffer.AsSpan(0, read));
                if (!finished && success is not null && received.ToArray().AsSpan().IndexOf(success) >= 0)
                {
                    await sent;
                    finished = true;
                    client.Shutdown(SocketShutdown.Send);
                }
            }
        }
        catch (SocketException)
        {
            // Reset by the proxy: SOCKS5 garbage, or bytes of ours still unread when it closed after its answer.
            return [.. received];
        }
    }

    private static byte[] Damage(byte[] seed, Random random)
    {
        var bytes = seed.ToList();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            var at = random.Next(bytes.Count + 1);
            switch (random.Next(6))
            {
                case 0 when at < bytes.Count:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1 when at < bytes.Count:
                    bytes.RemoveAt(at);
                    break;
                case 2:
                    bytes.Insert(at, Meaningful[random.Next(Meaningful.Length)]);
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4:
                    // Past the 8 KiB head limit, sometimes.
                    bytes.InsertRange(at, Enumerable.Repeat((byte)'A', random.Next(10_000)));
                    break;
                default:
                    bytes.AddRange(Enumerable.Range(0, random.Next(1, 100)).Select(_ => (byte)random.Next(256)));
                    break;
            }
        }

        return [.. bytes];
    }
}
