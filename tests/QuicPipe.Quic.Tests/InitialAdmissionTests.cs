using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// What an Initial for no connection must pass before the server creates one: it decrypts with the keys of its DCID,
/// it fits the half-open limits of its source address and /24, and (when asked) it carries a Retry token bound to its
/// source address.
/// </summary>
public class InitialAdmissionTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Initials_that_do_not_decrypt_are_counted_and_create_nothing()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        using var sender = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var random = new Random(11);
        for (var i = 0; i < 50; i++)
        {
            await sender.SendAsync(ConnectionLimitsTests.JunkInitial(random), pair.Server.LocalEndPoint, timeout.Token);
        }

        await Eventually.ValueAsync(() => Task.FromResult(pair.Server.InitialsUndecryptable), n => n == 50, TimeSpan.FromSeconds(10), "undecryptable Initials");
        Assert.Equal(0, pair.Server.AdmittedConnections);
        Assert.Equal((0, 0, 0), await pair.Server.GetConnectionCountsAsync());

        // A real client's Initial decrypts.
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        Assert.Equal(50, pair.Server.InitialsUndecryptable);
    }

    [Fact]
    public async Task Half_open_handshakes_are_capped_per_source_address_and_per_24()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o =>
            {
                o.MaxHandshakingPerAddress = 2;
                o.MaxHandshakingPerPrefix = 3;
                o.HandshakeTimeout = TimeSpan.FromSeconds(20);
            },
            client: o => o.HandshakeTimeout = TimeSpan.FromSeconds(20));

        // One-way forwarders from three sources (Linux routes all of 127/8 to lo): real Initials whose handshakes
        // never complete, as from a host that replays them.
        using var first = new OneWayForwarder(IPAddress.Parse("127.0.2.1"), pair);
        using var sameNetwork = new OneWayForwarder(IPAddress.Parse("127.0.2.2"), pair);
        using var otherNetwork = new OneWayForwarder(IPAddress.Parse("127.0.3.2"), pair);
        var dials = new List<Task>();
        foreach (var forwarder in new[] { first, sameNetwork, otherNetwork })
        {
            for (var i = 0; i < 4; i++)
            {
                dials.Add(pair.Client.ConnectAsync(forwarder.EndPoint, new QuicClientConnectionOptions { ExpectedPeer = pair.ServerIdentity.NodeId }, timeout.Token));
            }

            // One source after the other, so that which source fills the /24 is known.
            await Eventually.ValueAsync(() => Task.FromResult(forwarder.Forwarded), n => n >= 4, TimeSpan.FromSeconds(10), "forwarded Initials");
            await Task.Delay(200, timeout.Token);
        }

        // 127.0.2.1 gets its 2; 127.0.2.2 only 1 (the /24 holds 3); 127.0.3.2 its 2.
        await Eventually.ValueAsync(() => pair.Server.GetConnectionCountsAsync(), c => c.Handshaking == 5, TimeSpan.FromSeconds(10), "half-open handshakes");
        Assert.True(pair.Server.HandshakesRefusedPerSource >= 7, $"refused per source: {pair.Server.HandshakesRefusedPerSource}");
        Assert.Equal(0, pair.Server.RefusedConnections);

        // A client that completes its handshake from yet another address (127.0.0.1) is not held back by any of them.
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        timeout.Cancel();
        foreach (var dial in dials)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => dial);
        }
    }

    [Fact]
    public async Task Retry_always_validates_the_address_and_the_connection_works()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.Retry = QuicRetryMode.Always);

        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        Assert.Equal(1, pair.Server.RetriesSent);
        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        Assert.Equal(pair.ClientIdentity.NodeId, server.RemoteNodeId);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync(new byte[] { 1, 2, 3 }, cancellationToken: timeout.Token);
        var accepted = await server.AcceptStreamAsync(timeout.Token);
        var read = await accepted.Input.ReadAtLeastAsync(3, timeout.Token);
        Assert.Equal(new byte[] { 1, 2, 3 }, read.Buffer.ToArray());
    }

    [Fact]
    public async Task Retry_auto_starts_once_handshakes_pile_up()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o =>
            {
                o.Retry = QuicRetryMode.Auto;
                o.RetryThreshold = 1;
                o.HandshakeTimeout = TimeSpan.FromSeconds(20);
            },
            client: o => o.HandshakeTimeout = TimeSpan.FromSeconds(20));

        // Below the threshold: no Retry.
        await pair.ConnectPairAsync(timeout.Token);
        Assert.Equal(0, pair.Server.RetriesSent);

        // One handshake left open (its client never hears back), then the next client is asked to come back with a token.
        using var oneWay = new OneWayForwarder(IPAddress.Parse("127.0.0.3"), pair);
        var stuck = pair.Client.ConnectAsync(oneWay.EndPoint, new QuicClientConnectionOptions { ExpectedPeer = pair.ServerIdentity.NodeId }, timeout.Token);
        await Eventually.ValueAsync(() => pair.Server.GetConnectionCountsAsync(), c => c.Handshaking == 1, TimeSpan.FromSeconds(10), "half-open handshake");
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        Assert.True(pair.Server.RetriesSent >= 1);
        timeout.Cancel();
        await Assert.ThrowsAnyAsync<Exception>(() => stuck);
    }

    [Fact]
    public async Task A_retry_token_replayed_from_another_address_or_too_late_is_rejected()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o =>
            {
                o.Retry = QuicRetryMode.Always;
                o.RetryTokenLifetime = TimeSpan.FromSeconds(1);
            });

        // A two-way forwarder records the client's Initial that carries the token.
        using var recorder = new RecordingForwarder(pair);
        var (client, _) = await pair.ConnectThroughAsync(recorder.EndPoint, timeout.Token);
        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        var withToken = recorder.InitialsWithToken.First();

        // Once the connection is gone its CIDs no longer route, so the replays below are Initials for no connection.
        await client.CloseAsync(cancellationToken: timeout.Token);
        await Eventually.ValueAsync(() => pair.Server.GetConnectionCountsAsync(), c => c == (0, 0, 0), TimeSpan.FromSeconds(10), "connections");

        using var other = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.4"), 0));
        await other.SendAsync(withToken, pair.Server.LocalEndPoint, timeout.Token);
        await Eventually.ValueAsync(() => Task.FromResult(pair.Server.RetryTokensRejected), n => n == 1, TimeSpan.FromSeconds(10), "rejected tokens");

        // From the address it was made for, but after its lifetime.
        await Task.Delay(TimeSpan.FromSeconds(1.5), timeout.Token);
        await recorder.SendToServerAsync(withToken, timeout.Token);
        await Eventually.ValueAsync(() => Task.FromResult(pair.Server.RetryTokensRejected), n => n == 2, TimeSpan.FromSeconds(10), "rejected tokens");
        Assert.Equal(1, pair.Server.AdmittedConnections);
    }

    /// <summary>Forwards what the client sends to the server, and nothing back: the handshake stays half-open.</summary>
    private sealed class OneWayForwarder : IDisposable
    {
        private readonly UdpClient _socket;
        private readonly CancellationTokenSource _stop = new();
        private long _forwarded;

        public OneWayForwarder(IPAddress address, LoopbackPair pair)
        {
            _socket = new UdpClient(new IPEndPoint(address, 0));
            EndPoint = (IPEndPoint)_socket.Client.LocalEndPoint!;
            _ = RunAsync(pair.Client.LocalEndPoint.Port, pair.Server.LocalEndPoint);
        }

        public IPEndPoint EndPoint { get; }

        public long Forwarded => Interlocked.Read(ref _forwarded);

        private async Task RunAsync(int clientPort, IPEndPoint server)
        {
            try
            {
                while (true)
                {
                    var received = await _socket.ReceiveAsync(_stop.Token);
                    if (received.RemoteEndPoint.Port == clientPort && (received.Buffer[0] & 0xF0) == 0xC0)
                    {
                        Interlocked.Increment(ref _forwarded);
                        await _socket.SendAsync(received.Buffer, server, _stop.Token);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>Forwards both ways between one client and the server, keeping the client's Initials that carry a token.</summary>
    private sealed class RecordingForwarder : IDisposable
    {
        private readonly UdpClient _socket;
        private readonly CancellationTokenSource _stop = new();
        private readonly IPEndPoint _server;
        private IPEndPoint? _client;

        public RecordingForwarder(LoopbackPair pair)
        {
            _socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            _server = pair.Server.LocalEndPoint;
            EndPoint = (IPEndPoint)_socket.Client.LocalEndPoint!;
            _ = RunAsync();
        }

        public IPEndPoint EndPoint { get; }

        public System.Collections.Concurrent.ConcurrentQueue<byte[]> InitialsWithToken { get; } = new();

        public Task SendToServerAsync(byte[] datagram, CancellationToken cancellationToken) =>
            _socket.SendAsync(datagram, _server, cancellationToken).AsTask();

        private async Task RunAsync()
        {
            try
            {
                while (true)
                {
                    var received = await _socket.ReceiveAsync(_stop.Token);
                    if (received.RemoteEndPoint.Equals(_server))
                    {
                        if (_client is { } client)
                        {
                            await _socket.SendAsync(received.Buffer, client, _stop.Token);
                        }

                        continue;
                    }

                    _client = received.RemoteEndPoint;
                    if (HasToken(received.Buffer))
                    {
                        InitialsWithToken.Enqueue(received.Buffer);
                    }

                    await _socket.SendAsync(received.Buffer, _server, _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
        }

        // A v1 Initial's token length follows both CIDs; its first byte is nonzero when a token is there.
        private static bool HasToken(byte[] datagram)
        {
            if (datagram.Length < 7 || (datagram[0] & 0xF0) != 0xC0)
            {
                return false;
            }

            var position = 6 + datagram[5];
            position += 1 + datagram[position];
            return datagram[position] != 0;
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}
