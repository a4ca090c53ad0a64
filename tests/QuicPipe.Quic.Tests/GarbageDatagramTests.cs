using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class GarbageDatagramTests
{
    [Fact]
    public async Task Garbage_datagrams_never_crash_the_endpoint_and_it_still_serves_afterwards()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var random = new Random(1234);
        using var sender = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var target = pair.Server.LocalEndPoint;

        var sent = 0;
        foreach (var datagram in Garbage(random))
        {
            await sender.SendAsync(datagram, target, timeout.Token);
            sent++;
        }

        // A real connection still completes its handshake and moves data.
        var accept = pair.Server.AcceptAsync(timeout.Token).AsTask();
        var client = await pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token);
        var server = await accept;
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync("ping"u8.ToArray(), endStream: true, timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var result = await incoming.Input.ReadAtLeastAsync(4, timeout.Token);

        Assert.Equal("ping"u8.ToArray(), result.Buffer.ToArray());
        Assert.True(pair.Server.UnroutableDatagrams > 0, $"{sent} garbage datagrams were sent; none was counted as unroutable");
    }

    private static IEnumerable<byte[]> Garbage(Random random)
    {
        // Random bytes of every size class, including empty datagrams.
        foreach (var length in new[] { 0, 1, 5, 20, 64, 1199, 1200, 1350, 1500 })
        {
            yield return Bytes(random, length);
        }

        // Long headers that parse as QUIC v1 Initials (so they reach the accept path) with junk after the CIDs.
        for (var i = 0; i < 30; i++)
        {
            var packet = Bytes(random, 1200 + random.Next(200));
            packet[0] = (byte)(0xC0 | random.Next(4));
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(1), 1);
            packet[5] = (byte)random.Next(8, 21);
            packet[6 + packet[5]] = (byte)random.Next(0, 21);
            yield return packet;
        }

        // Truncated Initials, unknown versions and short headers with unknown CIDs.
        for (var i = 0; i < 30; i++)
        {
            var packet = Bytes(random, random.Next(7, 1400));
            packet[0] = (byte)(i % 3 == 0 ? 0x40 | random.Next(64) : 0xC0 | random.Next(64));
            if (i % 3 == 1)
            {
                BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(1), (uint)random.Next());
            }

            yield return packet;
        }
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
