using System.Buffers.Binary;
using System.Net;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// The packet path's DATAGRAMs: <see cref="QuicConnection.TrySendDatagram"/> from a thread of the caller's, and an
/// <see cref="IQuicDatagramReceiver"/> on the loop thread; what a VPN's TUN reader and writer use.
/// </summary>
public class PacketPathDatagramTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Datagrams_queued_from_another_thread_reach_the_receiver_intact_and_in_order()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var receiver = new RecordingReceiver();
        server.SetDatagramReceiver(receiver);
        const int Count = 2000;

        var refused = 0;
        var sender = new Thread(() =>
        {
            Span<byte> payload = stackalloc byte[1000];
            for (var i = 0; i < Count; i++)
            {
                Fill(payload[..Size(i)], i);
                while (!client.TrySendDatagram(payload[..Size(i)]))
                {
                    // The queue is full: the loop has not had its turn yet. A VPN drops here; the test waits.
                    refused++;
                    Thread.Sleep(1);
                }
            }
        });
        sender.Start();
        sender.Join();

        await receiver.WaitForAsync(Count, timeout.Token);
        Assert.Equal(Count, receiver.Indices.Count);
        Assert.Empty(receiver.Corrupt);

        // Loopback neither loses nor reorders, and the queue keeps its order.
        Assert.Equal(Enumerable.Range(0, Count), receiver.Indices);
        Assert.Equal(refused, client.DatagramsDroppedOnSend);
        Assert.Equal(receiver.Threads.Single(), receiver.Threads.First());
        Assert.NotEqual(Environment.CurrentManagedThreadId, receiver.Threads.Single());
    }

    [Fact]
    public async Task Datagrams_that_arrived_before_the_receiver_was_set_reach_it_first_in_order()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var payload = new byte[1000];
        var before = (await server.GetStatsAsync(timeout.Token)).BytesReceived;
        for (var i = 0; i < 10; i++)
        {
            Fill(payload.AsSpan(0, Size(i)), i);
            Assert.True(client.TrySendDatagram(payload.AsSpan(0, Size(i))));
        }

        // Queued for ReadDatagramAsync meanwhile (as on a connection accepted before its handler set a receiver).
        var sent = Enumerable.Range(0, 10).Sum(Size);
        while ((await server.GetStatsAsync(timeout.Token)).BytesReceived - before < sent)
        {
            await Task.Delay(10, timeout.Token);
        }

        var receiver = new RecordingReceiver();
        server.SetDatagramReceiver(receiver);
        for (var i = 10; i < 20; i++)
        {
            Fill(payload.AsSpan(0, Size(i)), i);
            Assert.True(client.TrySendDatagram(payload.AsSpan(0, Size(i))));
        }

        await receiver.WaitForAsync(20, timeout.Token);
        Assert.Equal(Enumerable.Range(0, 20), receiver.Indices);
        Assert.Empty(receiver.Corrupt);
    }

    [Fact]
    public async Task A_sender_that_waits_for_room_drops_nothing_before_the_wire_where_one_that_does_not_drops_some()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var receiver = new CountingReceiver();
        server.SetDatagramReceiver(receiver);
        var payload = new byte[1000];
        const int Count = 20_000;

        // As fast as one thread can: far faster than the loop drains, so the queue fills again and again. The wait
        // is generous: on a machine loaded by parallel builds the loop thread once went a whole second unscheduled.
        var sent = 0;
        for (var i = 0; i < Count; i++)
        {
            sent += client.SendDatagram(payload, TimeSpan.FromSeconds(5)) ? 1 : 0;
        }

        // Until all arrived, or nothing more for a second: on a loaded machine the receiver's socket may overflow,
        // and a DATAGRAM lost on the wire is never resent. The sending side is what this test is about.
        var seen = -1;
        while (receiver.Count < Count && receiver.Count != seen)
        {
            seen = receiver.Count;
            await Task.Delay(1000, timeout.Token);
        }

        Assert.Equal(Count, sent);
        Assert.Equal(0, client.DatagramsDroppedOnSend);
        Assert.True(receiver.Count > Count / 2, $"only {receiver.Count} of {Count} arrived");

        var dropped = 0;
        for (var i = 0; i < Count; i++)
        {
            dropped += client.TrySendDatagram(payload) ? 0 : 1;
        }

        Assert.True(dropped > 0, "the queue never filled: the test does not show what waiting saves");
        Assert.Equal(dropped, client.DatagramsDroppedOnSend);
    }

    [Fact]
    public async Task Path_MTU_discovery_raises_the_datagram_limit_past_an_IPv6_minimum_packet()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);

        // Nothing queued: the limit follows discovery all the same (a sender whose first DATAGRAM is larger than a
        // handshake-sized packet holds, a mesh link's first cell, would otherwise wait for ever). 1400 bytes do not
        // fit the 1200-byte packets the connection starts with.
        while (client.MaxDatagramSize < 1400)
        {
            await Task.Delay(20, timeout.Token);
        }

        Assert.True(client.TrySendDatagram(new byte[1400]));
        Assert.Equal(0, client.DatagramsDroppedOnSend);
    }

    [Fact]
    public async Task An_oversize_or_late_datagram_is_refused_and_counted_not_thrown()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);

        Assert.False(client.TrySendDatagram(new byte[client.MaxDatagramSize + 1]));
        Assert.Equal(1, client.DatagramsDroppedOnSend);

        await client.CloseAsync(0, timeout.Token);
        Assert.False(client.TrySendDatagram(new byte[16]));
        Assert.Equal(2, client.DatagramsDroppedOnSend);
    }

    [Fact]
    public async Task The_receiver_path_allocates_nothing_per_datagram_on_the_loop_thread()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.TrackLoopAllocations = true, client: o => o.TrackLoopAllocations = true);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var receiver = new CountingReceiver();
        server.SetDatagramReceiver(receiver);
        var payload = new byte[1000];

        // Warm up (queues, pools, the slots), then measure both loops over 20k datagrams.
        await SendAsync(client, payload, 2000, receiver, timeout.Token);
        var (serverBefore, clientBefore) = (pair.Server.LoopAllocatedBytes, pair.Client.LoopAllocatedBytes);
        var datagramsBefore = pair.Server.LoopReceivedDatagrams;
        await SendAsync(client, payload, 20_000, receiver, timeout.Token);
        var received = pair.Server.LoopReceivedDatagrams - datagramsBefore;
        var serverBytes = pair.Server.LoopAllocatedBytes - serverBefore;
        var clientBytes = pair.Client.LoopAllocatedBytes - clientBefore;

        Assert.True(received >= 10_000, $"only {received} datagrams measured");

        // A per-datagram allocation would be at least 24 B each: hundreds of kilobytes here.
        Assert.True(serverBytes < received, $"the receiving loop allocated {serverBytes} B over {received} datagrams");
        Assert.True(clientBytes < received, $"the sending loop allocated {clientBytes} B over {received} datagrams");
    }

    private static async Task SendAsync(QuicConnection client, byte[] payload, int count, CountingReceiver receiver, CancellationToken cancellationToken)
    {
        var target = receiver.Count + count;
        for (var i = 0; i < count; i++)
        {
            while (!client.TrySendDatagram(payload))
            {
                await Task.Delay(1, cancellationToken);
            }
        }

        // All of them, or as many as arrive: a loaded machine may drop some at the receiving socket, never resent.
        var seen = -1;
        while (receiver.Count < target && receiver.Count != seen)
        {
            seen = receiver.Count;
            await Task.Delay(500, cancellationToken);
        }
    }

    private static int Size(int index) => 8 + (index * 37 % 990);

    private static void Fill(Span<byte> payload, int index)
    {
        BinaryPrimitives.WriteInt32LittleEndian(payload, index);
        for (var i = 4; i < payload.Length; i++)
        {
            payload[i] = (byte)(index + i);
        }
    }

    private sealed class RecordingReceiver : IQuicDatagramReceiver
    {
        private readonly TaskCompletionSource _enough = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected = int.MaxValue;

        public List<int> Indices { get; } = [];

        public List<int> Corrupt { get; } = [];

        public HashSet<int> Threads { get; } = [];

        public void OnDatagram(QuicConnection connection, ReadOnlySpan<byte> datagram)
        {
            lock (Indices)
            {
                var index = BinaryPrimitives.ReadInt32LittleEndian(datagram);
                Span<byte> expected = stackalloc byte[1000];
                Fill(expected[..Size(index)], index);
                if (!datagram.SequenceEqual(expected[..Size(index)]))
                {
                    Corrupt.Add(index);
                }

                Indices.Add(index);
                Threads.Add(Environment.CurrentManagedThreadId);
                if (Indices.Count >= _expected)
                {
                    _enough.TrySetResult();
                }
            }
        }

        public async Task WaitForAsync(int count, CancellationToken cancellationToken)
        {
            lock (Indices)
            {
                _expected = count;
                if (Indices.Count >= count)
                {
                    return;
                }
            }

            await _enough.Task.WaitAsync(cancellationToken);
        }
    }

    private sealed class CountingReceiver : IQuicDatagramReceiver
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void OnDatagram(QuicConnection connection, ReadOnlySpan<byte> datagram) => Interlocked.Increment(ref _count);
    }
}
