using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Wire;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// Issue 3: many connections on one UDP socket, demultiplexed by DCID through the dataplane's CID lookup stage
/// (local routes naming a connection slot); unknown CIDs keep going to the accept path and the hook.
/// </summary>
public class CidDemultiplexingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Many_connections_on_one_socket_each_get_only_their_own_packets_also_after_slots_are_reused()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var serving = ServeEchoesAsync(pair.Server, timeout.Token);

        var connections = new List<QuicConnection>();
        for (var i = 0; i < 12; i++)
        {
            connections.Add(await pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token));
        }

        await EchoOnEachAsync(connections, timeout.Token);

        // Ending half frees their slots; the next dials take them, and must not receive the old connections' packets.
        for (var i = 0; i < 6; i++)
        {
            await connections[i].CloseAsync(0, timeout.Token);
        }

        connections.RemoveRange(0, 6);
        for (var i = 0; i < 6; i++)
        {
            connections.Add(await pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token));
        }

        await EchoOnEachAsync(connections, timeout.Token);
        Assert.All(connections, c => Assert.False(c.Closed.IsCompleted, c.CloseReason));
        Assert.Equal(0, pair.Server.UnroutableDatagrams);
        Assert.Equal(0, pair.Client.UnroutableDatagrams);
        Assert.False(serving.IsFaulted, serving.Exception?.ToString());
    }

    [Fact]
    public async Task A_CID_another_connection_took_over_is_removed_only_by_its_new_owner()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var unroutable = new List<byte[]>();
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            client: o => o.UnroutableDatagramHandler = (datagram, _) =>
            {
                lock (unroutable)
                {
                    unroutable.Add(datagram.ToArray());
                }
            });
        var (first, _) = await pair.ConnectPairAsync(timeout.Token);
        var (second, _) = await pair.ConnectPairAsync(timeout.Token);
        var cid = new ConnectionId(RandomNumberGenerator.GetBytes(12));
        var packet = new byte[64];
        QuicPacketWriter.WriteShortHeader(packet, cid.Span, packet.Length - 13);
        using var sender = LoopbackUdp.Bind();

        // The last registration wins; the old owner's removal must leave the new owner's route alone.
        var registered = await pair.Client.InvokeAsync(
            () =>
            {
                var both = pair.Client.TryRegister(cid, first) && pair.Client.TryRegister(cid, second);
                pair.Client.Unregister(cid, first);
                return both;
            },
            timeout.Token);
        Assert.True(registered);
        await SendThenMarkerAsync(sender, packet, pair.Client, marker: 1, unroutable);
        lock (unroutable)
        {
            Assert.DoesNotContain(unroutable, d => d.AsSpan().SequenceEqual(packet));
        }

        // Its owner's removal does remove it: the same packet is now unroutable.
        await pair.Client.InvokeAsync(
            () =>
            {
                pair.Client.Unregister(cid, second);
                return true;
            },
            timeout.Token);
        await SendThenMarkerAsync(sender, packet, pair.Client, marker: 2, unroutable);
        lock (unroutable)
        {
            Assert.Contains(unroutable, d => d.AsSpan().SequenceEqual(packet));
        }

        Assert.False(first.Closed.IsCompleted, first.CloseReason);
        Assert.False(second.Closed.IsCompleted, second.CloseReason);
    }

    [Fact]
    public async Task Hole_punch_probes_starting_with_a_zero_byte_reach_the_hook_beside_a_live_connection()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var probes = new List<byte[]>();
        var gate = new SemaphoreSlim(0);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o => o.UnroutableDatagramHandler = (datagram, _) =>
            {
                lock (probes)
                {
                    probes.Add(datagram.ToArray());
                }

                gate.Release();
            });
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        using var sender = LoopbackUdp.Bind();

        // Not QUIC: a first byte of 0 parses as a short header (or is too short to), with a DCID nobody registered.
        byte[] shortProbe = [0x00, 1, 2, 3, 4, 5];
        byte[] longProbe = [0x00, .. RandomNumberGenerator.GetBytes(47)];
        await sender.SendToAsync(shortProbe, pair.Server.LocalEndPoint);
        await sender.SendToAsync(longProbe, pair.Server.LocalEndPoint);

        Assert.True(await gate.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await gate.WaitAsync(TimeSpan.FromSeconds(10)));
        lock (probes)
        {
            Assert.Contains(probes, p => p.AsSpan().SequenceEqual(shortProbe));
            Assert.Contains(probes, p => p.AsSpan().SequenceEqual(longProbe));
        }

        Assert.False(client.Closed.IsCompleted);
    }

    [Fact]
    public async Task A_full_CID_table_refuses_an_incoming_connection_with_a_clear_reason()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var failures = new List<string>();
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o => o.ConnectionIdTableCapacity = 1, // room for the server's CID, not for the client's chosen one
            client: o => o.HandshakeTimeout = TimeSpan.FromMilliseconds(700));
        pair.Server.ConnectionFailed += (_, e) =>
        {
            lock (failures)
            {
                failures.Add(e.Error.Message);
            }
        };

        await Assert.ThrowsAsync<QuicConnectionException>(() => pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token));

        Assert.True(pair.Server.RefusedConnections >= 1);
        lock (failures)
        {
            Assert.Contains(failures, f => f.Contains("connection ID table is full", StringComparison.Ordinal));
        }

        var counts = await pair.Server.GetConnectionCountsAsync();
        Assert.Equal((0, 0, 0), counts);
    }

    [Fact]
    public async Task A_full_CID_table_fails_a_connection_whose_new_CID_does_not_fit_with_a_clear_reason()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, client: o => o.ConnectionIdTableCapacity = 1);

        // The first CID fits; the ones issued after the handshake (NEW_CONNECTION_ID) do not.
        var failure = await Assert.ThrowsAsync<QuicConnectionException>(async () =>
        {
            var connection = await pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token);
            await connection.Closed.WaitAsync(TimeSpan.FromSeconds(10), timeout.Token);
        });

        Assert.Contains("connection ID table is full", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Sends <paramref name="packet"/>, then a marker datagram that is never QUIC, and waits until the hook saw the
    /// marker: one socket, in order, so by then the endpoint has decided about the packet too.
    /// </summary>
    private static async Task SendThenMarkerAsync(Socket sender, byte[] packet, QuicEndpoint endpoint, byte marker, List<byte[]> unroutable)
    {
        byte[] markerDatagram = [0x00, marker];
        await sender.SendToAsync(packet, endpoint.LocalEndPoint);
        await sender.SendToAsync(markerDatagram, endpoint.LocalEndPoint);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            lock (unroutable)
            {
                if (unroutable.Exists(d => d.AsSpan().SequenceEqual(markerDatagram)))
                {
                    return;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"marker {marker} never reached the hook");
            await Task.Delay(10);
        }
    }

    /// <summary>Accepts connections until cancelled or disposed, echoing every stream of each.</summary>
    private static async Task ServeEchoesAsync(QuicEndpoint server, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var connection = await server.AcceptAsync(cancellationToken);
                _ = EchoStreamsAsync(connection, cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            // The test is over.
        }
    }

    private static async Task EchoStreamsAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                _ = StreamTransfer.EchoAsync(await connection.AcceptStreamAsync(cancellationToken), cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException or ChannelClosedException)
        {
            // The connection or the test ended.
        }
    }

    /// <summary>Every connection echoes a payload of its own at once; each must get exactly its own back.</summary>
    private static async Task EchoOnEachAsync(IReadOnlyList<QuicConnection> connections, CancellationToken cancellationToken)
    {
        await Task.WhenAll(connections.Select(async connection =>
        {
            var payload = RandomNumberGenerator.GetBytes(16 * 1024);
            var stream = await connection.OpenBidirectionalStreamAsync(cancellationToken);
            var reading = StreamTransfer.ReadToEndAsync(stream.Input, cancellationToken);
            await StreamTransfer.WriteAllAsync(stream, payload, 4096, cancellationToken);
            Assert.Equal(payload, await reading);
        }));
    }
}
