using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// Unprotected datagrams on a connection's path (<see cref="QuicConnection.TrySendUnprotectedDatagram"/>,
/// <see cref="UnprotectedDatagramBatch"/>, <see cref="IQuicUnprotectedDatagramReceiver"/>): what circuits' cells
/// cross each link as.
/// </summary>
/// <remarks>
/// Nothing retransmits these datagrams, and each test here counts on all of them arriving. So the tests run in the
/// stress collection, alone: beside other tests' bursts on loopback, the kernel could drop one, and its absence
/// looked like a hang (CI twice). A test that still misses one stops after <see cref="Stall"/> without progress and
/// says what each side and the kernel counted.
/// </remarks>
[Collection(StressCollection.Name)]
public class UnprotectedDatagramTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task They_reach_the_peers_receiver_intact_beside_a_stream_transfer_on_the_same_connection()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server, received) = await ConnectAsync(pair, timeout.Token);

        // A stream transfer at the same time: its QUIC packets (their fixed bit greased at random) must not be taken
        // for unprotected datagrams, nor these for QUIC.
        var transfer = Task.Run(async () =>
        {
            var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
            await stream.WriteAsync(new byte[4 << 20], endStream: true, timeout.Token);
        });
        var accepted = await server.AcceptStreamAsync(timeout.Token);
        var reading = accepted.Input.CopyToAsync(Stream.Null, timeout.Token);

        const int Count = 1000;
        var payload = new byte[1100];
        for (var i = 0; i < Count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload, i);
            payload.AsSpan(4).Fill((byte)i);
            Assert.True(client.TrySendUnprotectedDatagram(payload));
            if (i % 20 == 19)
            {
                // Nothing paces them (they are not congestion-controlled): give the receiving socket time to drain.
                await Task.Delay(2, timeout.Token);
            }
        }

        await transfer;
        await reading;
        await received.WaitForAsync(Count, () => Counted(client, server), timeout.Token);
        Assert.Equal(Enumerable.Range(0, Count), received.Indices.Order());
        Assert.Empty(received.Corrupt);
        Assert.Equal(Count, client.UnprotectedDatagramsSent);
        Assert.Equal(0, server.UnprotectedDatagramsRefused);
    }

    [Fact]
    public async Task One_copied_to_another_socket_is_refused_and_counted_not_delivered()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server, received) = await ConnectAsync(pair, timeout.Token);

        // A stranger who saw one on the wire (CID and tag are in the clear) sends a copy from its own address.
        var header = client.Unprotected.Current!.Header;
        var forged = header.Concat(new byte[] { 0, 0, 0, 7, 1, 2, 3 }).ToArray();
        using var stranger = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await stranger.SendAsync(forged, pair.Server.LocalEndPoint, timeout.Token);
        await Eventually.ValueAsync(() => Task.FromResult(server.UnprotectedDatagramsRefused), n => n == 1, Limit, "refused");

        // The connection itself is unharmed, and the same bytes from its own path are taken.
        Assert.True(client.TrySendUnprotectedDatagram(new byte[] { 0, 0, 0, 8, 1, 2, 3 }));
        await received.WaitForAsync(1, () => Counted(client, server), timeout.Token);
        Assert.Equal([8], received.Indices);
        Assert.False(server.IsTerminated);
    }

    [Fact]
    public async Task A_receiver_passes_them_on_through_another_connection_of_its_endpoint_with_a_longer_CID_in_one_batch()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        var b = NodeIdentity.Generate();
        var c = NodeIdentity.Generate();

        // B accepts A and dials C from the same endpoint; C's CIDs are longer than B's, so the payload moves in its slot.
        await using var endpointB = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = b, AcceptIncoming = true, ExpectedClient = a.NodeId, ConnectionIdLength = 8 });
        await using var endpointC = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = c, AcceptIncoming = true, ExpectedClient = b.NodeId, ConnectionIdLength = 20 });
        await using var endpointA = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = a });
        var acceptAtB = endpointB.AcceptAsync(timeout.Token).AsTask();
        var aToB = await endpointA.ConnectAsync(endpointB.LocalEndPoint, new QuicClientConnectionOptions { ExpectedPeer = b.NodeId }, timeout.Token);
        var bFromA = await acceptAtB;
        var acceptAtC = endpointC.AcceptAsync(timeout.Token).AsTask();
        var bToC = await endpointB.ConnectAsync(endpointC.LocalEndPoint, new QuicClientConnectionOptions { ExpectedPeer = c.NodeId }, timeout.Token);
        var cFromB = await acceptAtC;

        var atC = new Recorder();
        cFromB.SetUnprotectedDatagramReceiver(atC);
        bToC.SetUnprotectedDatagramReceiver(new Recorder());
        var switchAtB = new Switch(bToC);
        bFromA.SetUnprotectedDatagramReceiver(switchAtB);
        aToB.SetUnprotectedDatagramReceiver(new Recorder());
        await WaitUntilSendableAsync(aToB, timeout.Token);
        await WaitUntilSendableAsync(bToC, timeout.Token);

        const int Count = 200;
        using var batch = new UnprotectedDatagramBatch();
        var payload = new byte[1200];
        for (var i = 0; i < Count; i++)
        {
            payload.AsSpan().Fill((byte)i);
            Assert.True(batch.TryAdd(aToB, BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(i)), payload));
            if (i % 20 == 19)
            {
                batch.Flush();
                await Task.Delay(2, timeout.Token);
            }
        }

        batch.Flush();
        await atC.WaitForAsync(Count, () => $"A->B {Counted(aToB, bFromA)}; B->C {Counted(bToC, cFromB)}", timeout.Token);
        Assert.Equal(Enumerable.Range(0, Count), atC.Indices.Order());

        // The switch marked each one's first payload byte after the index: C sees B's rewrite, made in place.
        Assert.All(atC.Marks, mark => Assert.Equal(0xAB, mark));
        Assert.Equal(Count, aToB.UnprotectedDatagramsSent);
        Assert.Equal(Count, bToC.UnprotectedDatagramsSent);
        Assert.Equal(0, cFromB.UnprotectedDatagramsRefused + bFromA.UnprotectedDatagramsRefused);
    }

    private static string Counted(QuicConnection sender, QuicConnection receiver) =>
        $"sent {sender.UnprotectedDatagramsSent}, refused at the sender {sender.UnprotectedDatagramsRefused}, refused at the receiver {receiver.UnprotectedDatagramsRefused}";

    /// <summary>A connection whose server side records what arrives, once the client can send.</summary>
    private static async Task<(QuicConnection Client, QuicConnection Server, Recorder Received)> ConnectAsync(LoopbackPair pair, CancellationToken cancellationToken)
    {
        var (client, server) = await pair.ConnectPairAsync(cancellationToken);
        var received = new Recorder();
        server.SetUnprotectedDatagramReceiver(received);
        client.SetUnprotectedDatagramReceiver(new Recorder());
        await WaitUntilSendableAsync(client, cancellationToken);
        return (client, server, received);
    }

    /// <summary>Both sides read their path after the handshake (on the loop thread): wait for the sender's.</summary>
    private static async Task WaitUntilSendableAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        while (connection.Unprotected.Current is null)
        {
            await Task.Delay(10, cancellationToken);
        }
    }

    /// <summary>Records each datagram's index (its first 4 bytes) and checks the rest repeats the index's low byte (the switch's mark aside).</summary>
    private sealed class Recorder : IQuicUnprotectedDatagramReceiver
    {
        private readonly ConcurrentQueue<int> _indices = new();

        // Made before anything is sent: a drop while sending counts too.
        private readonly KernelUdpCounters _kernelAtStart = KernelUdpCounters.Read();

        public List<int> Indices => [.. _indices];

        public ConcurrentQueue<int> Corrupt { get; } = new();

        public ConcurrentQueue<byte> Marks { get; } = new();

        public QuicConnection? OnUnprotectedDatagram(QuicConnection connection, Span<byte> datagram)
        {
            var index = BinaryPrimitives.ReadInt32BigEndian(datagram);
            if (datagram.Length > 5)
            {
                Marks.Enqueue(datagram[4]);
                if (datagram[5..].ContainsAnyExcept((byte)index))
                {
                    Corrupt.Enqueue(index);
                }
            }

            _indices.Enqueue(index);
            return null;
        }

        /// <summary>
        /// Waits for <paramref name="count"/> datagrams; fails once none arrived for <see cref="Stall"/> (a lost one stays
        /// lost), with what is missing, <paramref name="counted"/> and the kernel's UDP counters since this recorder was made.
        /// </summary>
        public async Task WaitForAsync(int count, Func<string> counted, CancellationToken cancellationToken)
        {
            var seen = -1;
            var quiet = Stopwatch.StartNew();
            while (_indices.Count < count)
            {
                if (_indices.Count != seen)
                {
                    seen = _indices.Count;
                    quiet.Restart();
                }
                else if (quiet.Elapsed > Stall)
                {
                    var missing = Enumerable.Range(0, count).Except(_indices).Take(10);
                    Assert.Fail($"{seen} of {count} arrived, then none for {Stall.TotalSeconds:0} s; missing (first 10) {string.Join(' ', missing)}; {counted()}; kernel UDP since the recorder was made: {KernelUdpCounters.Read().Since(_kernelAtStart)}");
                }

                await Task.Delay(10, cancellationToken);
            }
        }
    }

    /// <summary>Marks each datagram and passes it on through <paramref name="next"/>.</summary>
    private sealed class Switch(QuicConnection next) : IQuicUnprotectedDatagramReceiver
    {
        public QuicConnection? OnUnprotectedDatagram(QuicConnection connection, Span<byte> datagram)
        {
            datagram[4] = 0xAB;
            return next;
        }
    }
}
