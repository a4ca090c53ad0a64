using System.Net;
using System.Security.Cryptography;
using QuicPipe.Dataplane;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// An endpoint attached to a socket another thread receives from (as the relay hosts its control service):
/// the host hands datagrams over, the endpoint answers from the same address.
/// </summary>
public class SharedSocketTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task An_attached_server_completes_a_handshake_and_an_echo_through_its_host_socket()
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var host = UdpBatchSocket.Bind(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)), new UdpSocketOptions { ReceiveTimeout = TimeSpan.FromMilliseconds(50) });
        var shared = new QuicSharedSocket(host.DuplicateForSending());
        var serverIdentity = NodeIdentity.Generate();
        var clientIdentity = NodeIdentity.Generate();
        await using var server = QuicEndpoint.Attach(shared, new QuicEndpointOptions { Identity = serverIdentity, AcceptIncoming = true, ExpectedClient = clientIdentity.NodeId });
        using var pump = new HostPump(host, shared);
        await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = clientIdentity });

        var accept = server.AcceptAsync(timeout.Token).AsTask();
        var connection = await client.ConnectAsync(host.LocalAddress.ToEndPoint(), new QuicClientConnectionOptions { ExpectedPeer = serverIdentity.NodeId }, timeout.Token);
        var accepted = await accept;

        Assert.Equal(host.LocalAddress.ToEndPoint(), server.LocalEndPoint);
        Assert.Equal(host.LocalAddress.ToEndPoint(), connection.RemoteEndPoint);
        Assert.Equal(clientIdentity.NodeId, accepted.RemoteNodeId);

        var echo = Task.Run(
            async () =>
            {
                var stream = await accepted.AcceptStreamAsync(timeout.Token);
                var data = await StreamTransfer.ReadToEndAsync(stream.Input, timeout.Token);
                await stream.WriteAsync(data, cancellationToken: timeout.Token);
                await stream.CompleteWritesAsync(timeout.Token);
            },
            timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(256 * 1024);
        var outgoing = await connection.OpenBidirectionalStreamAsync(timeout.Token);
        var reading = StreamTransfer.ReadToEndAsync(outgoing.Input, timeout.Token);
        await outgoing.WriteAsync(payload, cancellationToken: timeout.Token);
        await outgoing.CompleteWritesAsync(timeout.Token);

        Assert.Equal(payload, await reading);
        await echo;
        Assert.True(pump.Delivered > 0);
    }

    [Fact]
    public void A_full_queue_refuses_and_counts_instead_of_growing()
    {
        using var host = UdpBatchSocket.Bind(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)), new UdpSocketOptions());
        using var shared = new QuicSharedSocket(host.DuplicateForSending(), queueCapacity: 4);
        var source = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 9));

        var accepted = Enumerable.Range(0, 10).Count(_ => shared.TryDeliver(new byte[100], source));

        Assert.Equal(4, accepted);
        Assert.Equal(6, shared.Refused);
    }

    [Fact]
    public void Initials_for_new_connections_wait_in_their_own_queue_behind_established_traffic()
    {
        using var host = UdpBatchSocket.Bind(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)), new UdpSocketOptions());
        using var shared = new QuicSharedSocket(host.DuplicateForSending(), queueCapacity: 4, initialQueueCapacity: 3);
        var port = new DatagramPortView(shared);
        var source = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 9));
        var initial = ConnectionLimitsTests.JunkInitial(new Random(3));
        var established = new byte[100];
        established[0] = 0x40; // short header

        // A flood of Initials fills only its queue: established packets still get in.
        var initials = Enumerable.Range(0, 10).Count(_ => shared.TryDeliver(initial, source));
        var others = Enumerable.Range(0, 2).Count(_ => shared.TryDeliver(established, source));

        Assert.Equal(3, initials);
        Assert.Equal(2, others);
        Assert.Equal(7, shared.RefusedInitials);
        Assert.Equal(7, shared.Refused);

        // And they are read first, though they came last.
        var batch = new PacketBatch(capacity: 3);
        Assert.Equal(3, port.Receive(batch));
        Assert.Equal(0x40, batch.Payload(0)[0]);
        Assert.Equal(0x40, batch.Payload(1)[0]);
        Assert.Equal(0xC3, batch.Payload(2)[0]);
        Assert.Equal(2, port.Receive(batch));
    }

    [Fact]
    public void A_source_address_queues_its_share_of_Initials_and_another_address_still_gets_in()
    {
        using var host = UdpBatchSocket.Bind(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)), new UdpSocketOptions());
        using var shared = new QuicSharedSocket(host.DuplicateForSending(), initialQueueCapacity: 100, initialsPerSourcePerSecond: 100);
        var flooder = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 9));
        var other = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 9));
        var initial = ConnectionLimitsTests.JunkInitial(new Random(5));

        // 10 per 100 ms window; the flood below takes well under one (a window change mid-way lets at most 10 more in).
        var flooded = Enumerable.Range(0, 1000).Count(_ => shared.TryDeliver(initial, flooder));

        Assert.InRange(flooded, 10, 20);
        Assert.True(shared.TryDeliver(initial, other));
        Assert.Equal(1000 - flooded, shared.RefusedInitials);
    }

    /// <summary>The endpoint's side of a shared socket (an internal interface), as its loop reads it.</summary>
    private readonly struct DatagramPortView(QuicSharedSocket socket)
    {
        public int Receive(PacketBatch batch) => ((Internal.IDatagramPort)socket).Receive(batch, new DataplaneCounters(), TimeSpan.FromMilliseconds(10));
    }

    /// <summary>The host's receive loop: every datagram goes to the attached endpoint.</summary>
    private sealed class HostPump : IDisposable
    {
        private readonly UdpBatchSocket _host;
        private readonly QuicSharedSocket _shared;
        private readonly Thread _thread;
        private volatile bool _stop;
        private long _delivered;

        public HostPump(UdpBatchSocket host, QuicSharedSocket shared)
        {
            _host = host;
            _shared = shared;
            _thread = new Thread(Run) { IsBackground = true };
            _thread.Start();
        }

        public long Delivered => Interlocked.Read(ref _delivered);

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }

        private void Run()
        {
            var batch = new PacketBatch();
            var counters = new DataplaneCounters();
            while (!_stop)
            {
                var count = _host.Receive(batch, counters);
                for (var i = 0; i < count; i++)
                {
                    if (_shared.TryDeliver(batch.Payload(i), batch.Sources[i]))
                    {
                        Interlocked.Increment(ref _delivered);
                    }
                }
            }
        }
    }
}
