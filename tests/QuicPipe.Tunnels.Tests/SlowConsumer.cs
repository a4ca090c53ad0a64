using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using QuicPipe.Quic;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// Drives a client whose tunnel (through a proxy, to a <see cref="SourceServer"/>) delivers far faster than it reads,
/// and checks that what the sender got rid of but the client has not read, the bytes held on the way, stays under
/// <see cref="Bound"/> while the client reads nothing, then reads slowly; then reads the rest and checks the count.
/// </summary>
internal static class SlowConsumer
{
    /// <summary>SO_RCVBUF of the client: small and fixed, so it is a known part of the bound.</summary>
    public const int ClientReceiveBuffer = 64 * 1024;

    /// <summary>SO_SNDBUF of the sender (see <see cref="SourceServer"/>).</summary>
    public const int SourceSendBuffer = 64 * 1024;

    /// <summary>
    /// Offered by the sender: several times <see cref="Bound"/> (53 MiB with a 32 MiB tcp_rmem maximum), so a proxy
    /// that reads the stream into a buffer of its own instead of waiting for the client lets the sender run far past
    /// the bound.
    /// </summary>
    public const long Total = 256L * 1024 * 1024;

    /// <summary>
    /// The most bytes that can sit between the sender and the client when every stage waits for the next one. From
    /// the sender on: its socket's send buffer; the exposer's socket's receive buffer (the kernel grows it up to
    /// tcp_rmem's maximum); the exposer's read buffer and the exposing stream's send buffer; the proxy's stream
    /// receive buffer, which the peer can fill only up to the stream's flow-control window (ngtcp2 grows it up to
    /// MaxStreamReceiveWindow); the proxy's client socket's send buffer (the kernel grows it up to tcp_wmem's maximum);
    /// the client's receive buffer. The proxy itself adds nothing: it consumes stream bytes only once its TCP send
    /// of them completed. Each term is the largest the configuration allows, so the bound holds however the kernel
    /// and ngtcp2 tune; one more <see cref="ProxyOptions.BufferSize"/> is slack for a chunk in a send call.
    /// </summary>
    public static long Bound(Socket client, SourceServer source)
    {
        // The fixtures run exposer, endpoints and proxies with their default options.
        var quic = new QuicEndpointOptions();
        return source.SendBufferSize
            + KernelMaximum("/proc/sys/net/ipv4/tcp_rmem")
            + new TcpExposerOptions().BufferSize + quic.StreamSendBuffer
            + quic.MaxStreamReceiveWindow
            + KernelMaximum("/proc/sys/net/ipv4/tcp_wmem")
            + client.ReceiveBufferSize
            + new ProxyOptions().BufferSize;
    }

    /// <summary>Runs the phases on a client whose tunnel is established.</summary>
    public static async Task RunAsync(Socket client, SourceServer source, long bound, ITestOutputHelper output, CancellationToken cancellationToken)
    {
        long read = 0;
        long peak = 0;
        long Held()
        {
            var held = source.Sent - read;
            peak = Math.Max(peak, held);
            return held;
        }

        // Not reading at all: wait until the sender stalls (nothing taken for a second), every buffer on the way full.
        var stalledFor = 0;
        var previous = -1L;
        var clock = Stopwatch.StartNew();
        while (stalledFor < 4)
        {
            await Task.Delay(250, cancellationToken);
            var held = Held();
            Assert.True(held <= bound, $"{held} bytes held, more than the bound of {bound}, after {clock.Elapsed.TotalSeconds:0.0} s");
            stalledFor = source.Sent == previous ? stalledFor + 1 : 0;
            previous = source.Sent;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the sender never stalled: {source.Sent} bytes taken");
        }

        Assert.True(source.Sent < source.Total, "the sender got rid of everything although nobody read");
        output.WriteLine($"stalled with {source.Sent / 1024} KiB held of {source.Total / 1024} KiB offered (bound {bound / 1024} KiB)");

        // Reading slowly, about 3 MiB/s: the sender is let through as fast as the client reads, no faster.
        var buffer = new byte[64 * 1024];
        var slow = Stopwatch.StartNew();
        while (slow.Elapsed < TimeSpan.FromSeconds(2))
        {
            read += await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            var held = Held();
            Assert.True(held <= bound, $"{held} bytes held while reading slowly, more than the bound of {bound}");
            await Task.Delay(20, cancellationToken);
        }

        // The rest as fast as it comes: every byte arrives, and then the end.
        while (true)
        {
            var n = await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        Assert.Equal(source.Total, read);
        output.WriteLine($"peak held {peak / 1024} KiB, bound {bound / 1024} KiB");
    }

    private static long KernelMaximum(string path) =>
        long.Parse(File.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
}
