using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// <see cref="QuicConnection.ProbePathAsync"/>: a connection through a forwarder (the relay) checks the peer's direct
/// address without moving there, and only the two ends of a connection can make probes the other answers.
/// </summary>
public class PathProbeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Either_side_probes_the_direct_path_and_the_connection_stays_where_it_is()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        using var relay = new UdpForwarder(pair.Server.LocalEndPoint);
        var (client, server) = await pair.ConnectThroughAsync(relay.FrontEndPoint, timeout.Token);
        var events = new ConcurrentQueue<QuicPathChangedEventArgs>();
        client.PathChanged += (_, e) => events.Enqueue(e);
        server.PathChanged += (_, e) => events.Enqueue(e);

        var clientRtt = await client.ProbePathAsync(pair.Server.LocalEndPoint, timeout.Token);
        var serverRtt = await server.ProbePathAsync(pair.Client.LocalEndPoint, timeout.Token);

        Assert.InRange(clientRtt, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(5));
        Assert.InRange(serverRtt, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(5));
        Assert.True(pair.Server.PathProbesAnswered >= 1);
        Assert.True(pair.Client.PathProbesAnswered >= 1);
        Assert.Equal(relay.FrontEndPoint, client.RemoteEndPoint);
        Assert.Equal(relay.UpstreamEndPoint, server.RemoteEndPoint);
        Assert.Empty(events);

        // And the connection still carries data over the relay.
        var forwarded = relay.Forwarded;
        var (transfer, completion) = WatchedTransfer.Start(client, server, 1024 * 1024, timeout.Token);
        await completion;
        Assert.Equal(transfer.SentHash, transfer.ReceivedHash);
        Assert.True(relay.Forwarded - forwarded > 100, $"only {relay.Forwarded - forwarded} datagrams went through the relay");
    }

    [Fact]
    public async Task A_path_where_nobody_answers_fails_after_the_last_try_and_the_connection_is_unaffected()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        using var silent = LoopbackUdp.Bind();
        var nowhere = (IPEndPoint)silent.LocalEndPoint!;

        var error = await Assert.ThrowsAsync<QuicConnectionException>(() => client.ProbePathAsync(nowhere, timeout.Token));

        Assert.Contains($"No answer from {nowhere} to 5 path probes", error.Message, StringComparison.Ordinal);
        Assert.Equal(5, Drain(silent).Count);
        Assert.False(client.Closed.IsCompleted);
        var (transfer, completion) = WatchedTransfer.Start(client, server, 256 * 1024, timeout.Token);
        await completion;
        Assert.Equal(transfer.SentHash, transfer.ReceivedHash);
    }

    [Fact]
    public async Task Probes_without_the_connections_key_are_dropped_unanswered_and_counted()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        using var stranger = LoopbackUdp.Bind();

        // A real challenge of this connection, sent from elsewhere, is answered (to its sender, as large as itself) ...
        var challenge = new byte[PathProbe.Length];
        PathProbe.Write(challenge, PathProbeKind.Challenge, client.ProbeId, 42, client.ProbeKey);
        stranger.SendTo(challenge, pair.Server.LocalEndPoint);
        var answers = await ReceiveAsync(stranger, 1, timeout.Token);
        Assert.Equal(PathProbe.Length, answers[0].Length);

        // ... but one with a guessed key, a changed nonce or an unknown probe id is not.
        var wrongKey = new byte[PathProbe.Length];
        PathProbe.Write(wrongKey, PathProbeKind.Challenge, client.ProbeId, 43, new byte[PathProbe.KeyLength]);
        var changedNonce = (byte[])challenge.Clone();
        changedNonce[20] ^= 1;
        var unknownId = new byte[PathProbe.Length];
        PathProbe.Write(unknownId, PathProbeKind.Challenge, client.ProbeId ^ 1, 44, client.ProbeKey);
        var dropped = pair.Server.PathProbesDropped;
        foreach (var forged in new[] { wrongKey, changedNonce, unknownId })
        {
            stranger.SendTo(forged, pair.Server.LocalEndPoint);
        }

        await Eventually.ValueAsync(() => Task.FromResult(pair.Server.PathProbesDropped), n => n >= dropped + 3, TimeSpan.FromSeconds(10), "three dropped probes");
        await Task.Delay(200, timeout.Token);
        Assert.Empty(Drain(stranger));
        Assert.Equal(1, pair.Server.PathProbesAnswered);
    }

    private static async Task<List<byte[]>> ReceiveAsync(Socket socket, int count, CancellationToken cancellationToken)
    {
        var received = new List<byte[]>();
        var buffer = new byte[2048];
        while (received.Count < count)
        {
            var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            received.Add(buffer[..length]);
        }

        return received;
    }

    /// <summary>What arrived so far, without waiting.</summary>
    private static List<byte[]> Drain(Socket socket)
    {
        var received = new List<byte[]>();
        var buffer = new byte[2048];
        while (socket.Available > 0)
        {
            var length = socket.Receive(buffer);
            received.Add(buffer[..length]);
        }

        return received;
    }
}
