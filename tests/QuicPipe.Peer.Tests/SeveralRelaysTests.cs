using System.Net;
using System.Security.Cryptography;
using QuicPipe.Dataplane;
using QuicPipe.Quic;
using QuicPipe.Relay;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// Peers on several relays (docs/configuration.md, "Several relays"), with two real <see cref="RelayServer"/>s
/// on loopback: A is registered at R1 only, D at R2 only, B at both. Direct paths are off: every byte goes through a
/// relay, so which relay carried it is what the connection's remote address says.
/// </summary>
public sealed class SeveralRelaysTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly LoopbackRelay _r1 = new();
    private readonly LoopbackRelay _r2 = new();

    public void Dispose()
    {
        _r1.Dispose();
        _r2.Dispose();
    }

    [Fact]
    public async Task A_peer_on_two_relays_dials_each_peer_through_the_relay_that_knows_it()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var b = NodeIdentity.Generate();
        await using var a = await StartAsync(NodeIdentity.Generate(), timeout.Token, [_r1], b.NodeId);
        await using var d = await StartAsync(NodeIdentity.Generate(), timeout.Token, [_r2], b.NodeId);
        await using var both = await StartAsync(b, timeout.Token, [_r1, _r2]);

        Assert.Equal([_r1.Address, _r2.Address], both.Relays.Select(r => r.EndPoint));
        Assert.All(both.Relays, r => Assert.True(r.IsRegistered));
        Assert.Equal([_r1.Server.NodeId, _r2.Server.NodeId], both.Relays.Select(r => r.Id!.Value));

        var toA = await both.DialAsync(a.NodeId, timeout.Token);
        var fromB1 = await a.AcceptAsync(timeout.Token);
        var toD = await both.DialAsync(d.NodeId, timeout.Token);
        var fromB2 = await d.AcceptAsync(timeout.Token);

        Assert.Equal(_r1.Address, toA.RemoteEndPoint);
        Assert.Equal(_r2.Address, toD.RemoteEndPoint);
        Assert.Equal(_r2.Address, both.GetPath(toD).Relay);
        Assert.Equal(PeerPathKind.Relayed, both.GetPath(toD).Kind);
        await Task.WhenAll(
            Echo.AssertAsync(toA, fromB1, 1024 * 1024, timeout.Token),
            Echo.AssertAsync(toD, fromB2, 1024 * 1024, timeout.Token));
        Assert.Equal(b.NodeId, fromB2.RemoteNodeId);
    }

    [Fact]
    public async Task Dialing_a_peer_no_relay_knows_fails_in_one_line_naming_each_relay()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var b = NodeIdentity.Generate();
        await using var a = await StartAsync(NodeIdentity.Generate(), timeout.Token, [_r1], b.NodeId);
        await using var d = await StartAsync(NodeIdentity.Generate(), timeout.Token, [_r2], b.NodeId);
        await using var both = await StartAsync(b, timeout.Token, [_r1, _r2]);
        var stranger = NodeIdentity.Generate().NodeId;

        // A lists R1 only: R1 does not know D, and the message is the single-relay one.
        var fromA = await Assert.ThrowsAsync<PeerException>(() => a.DialAsync(d.NodeId, timeout.Token));
        Assert.Equal(PeerFailure.PeerUnreachable, fromA.Failure);
        Assert.StartsWith($"Cannot reach {d.NodeId} through relay {_r1.Address}: ", fromA.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_r2.Address.ToString(), fromA.Message, StringComparison.Ordinal);

        var fromB = await Assert.ThrowsAsync<PeerException>(() => both.DialAsync(stranger, timeout.Token));
        Assert.Equal(PeerFailure.PeerUnreachable, fromB.Failure);
        Assert.Contains($"relay {_r1.Address}: ", fromB.Message, StringComparison.Ordinal);
        Assert.Contains($"relay {_r2.Address}: ", fromB.Message, StringComparison.Ordinal);
        Assert.Contains(stranger.ToString(), fromB.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', fromB.Message);

        Assert.True(await both.IsKnownByAnyRelayAsync(a.NodeId, timeout.Token));
        Assert.True(await both.IsKnownByAnyRelayAsync(d.NodeId, timeout.Token));
        Assert.False(await a.IsKnownByAnyRelayAsync(d.NodeId, timeout.Token));
        Assert.False(await both.IsKnownByAnyRelayAsync(stranger, timeout.Token));
    }

    [Fact]
    public async Task A_relay_that_dies_mid_transfer_hands_the_connection_to_the_other_relay_without_a_reconnect()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var dialerId = NodeIdentity.Generate();
        await using var accepter = await StartAsync(NodeIdentity.Generate(), timeout.Token, [_r1, _r2], dialerId.NodeId);
        await using var dialer = await StartAsync(dialerId, timeout.Token, [_r1, _r2]);
        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var accepted = await accepter.AcceptAsync(timeout.Token);
        Assert.Equal(_r1.Address, connection.RemoteEndPoint);
        var moved = new TaskCompletionSource<PeerPathChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        dialer.GetPath(connection).Changed += (_, e) => moved.TrySetResult(e);

        // 4 MiB through R1; R1 goes away (its socket closed, nothing said to anyone) once the first 1 MiB has arrived,
        // and the other 3 MiB leave only after that, so they can only cross through R2.
        var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outgoing = await connection.OpenBidirectionalStreamAsync(timeout.Token);
        var sending = SendInTwoAsync(outgoing, payload, 1024 * 1024, killed.Task, timeout.Token);
        var incoming = await accepted.AcceptStreamAsync(timeout.Token);
        var received = new MemoryStream();
        while (true)
        {
            var read = await incoming.Input.ReadAsync(timeout.Token);
            foreach (var segment in read.Buffer)
            {
                received.Write(segment.Span);
            }

            incoming.Input.AdvanceTo(read.Buffer.End);
            if (received.Length >= 1024 * 1024 && !killed.Task.IsCompleted)
            {
                _r1.Dispose();
                killed.SetResult();
            }

            if (read.IsCompleted)
            {
                break;
            }
        }

        await sending;
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.ToArray()));
        var change = await moved.Task.WaitAsync(timeout.Token);
        Assert.Equal((PeerPathKind.Relayed, _r1.Address, PeerPathKind.Relayed, _r2.Address), (change.PreviousKind, change.PreviousRemote, change.Kind, change.Remote));
        Assert.Equal(_r2.Address, connection.RemoteEndPoint);
        Assert.Equal(_r2.Address, dialer.GetPath(connection).Relay);
        Assert.False(connection.Closed.IsCompleted);
        Assert.Equal(_r2.Address, accepted.RemoteEndPoint);
        await Echo.AssertAsync(connection, accepted, 64 * 1024, timeout.Token);
    }

    [Fact]
    public async Task A_lost_relay_that_no_other_relay_can_replace_is_waited_for_as_with_one_relay()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var identity = NodeIdentity.Generate();
        var port = FreeUdpPort();
        using var r1 = StartRelay(identity, port);
        var r1Address = new IPEndPoint(IPAddress.Loopback, port);
        var dialerId = NodeIdentity.Generate();

        // The accepter is at R1 only: when R1 goes, R2 does not know it, and the connection waits for R1. The peer
        // timeout is longer than the outage may take on a loaded machine.
        var peerTimeout = TimeSpan.FromSeconds(20);
        var accepterOptions = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = r1Address, RelayId = identity.NodeId, DirectPaths = false, IdleTimeout = peerTimeout };
        accepterOptions.AllowedDialers.Add(dialerId.NodeId);
        await using var accepter = await PeerEndpoint.StartAsync(accepterOptions, timeout.Token);
        var dialerOptions = new PeerEndpointOptions { Identity = dialerId, DirectPaths = false, IdleTimeout = peerTimeout };
        dialerOptions.Relays.Add(new PeerRelay(r1Address, identity.NodeId));
        dialerOptions.Relays.Add(new PeerRelay(_r2.Address, _r2.Server.NodeId));
        await using var dialer = await PeerEndpoint.StartAsync(dialerOptions, timeout.Token);
        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var accepted = await accepter.AcceptAsync(timeout.Token);

        r1.Dispose();
        Assert.True(SpinWait.SpinUntil(() => !dialer.Relays[0].IsRegistered, TimeSpan.FromSeconds(10)), "the loss of R1 not noticed");
        await Task.Delay(TimeSpan.FromMilliseconds(500), timeout.Token);
        Assert.Equal(r1Address, connection.RemoteEndPoint);
        Assert.Equal(r1Address, dialer.GetPath(connection).Relay);

        using var back = StartRelay(identity, port);
        await Echo.AssertAsync(connection, accepted, 256 * 1024, timeout.Token);
        Assert.Equal(r1Address, connection.RemoteEndPoint);
        Assert.True(dialer.Relays[0].Registrations >= 2);
    }

    [Fact]
    public async Task A_connection_whose_CIDs_were_issued_long_after_the_registrations_still_moves_to_the_other_relay()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var dialerId = NodeIdentity.Generate();
        await using var accepter = await StartAsync(NodeIdentity.Generate(), timeout.Token, [_r1, _r2], dialerId.NodeId);
        await using var dialer = await StartAsync(dialerId, timeout.Token, [_r1, _r2]);

        // 30 connections, about 5 CIDs each side: beyond the 64 that each relay routes ahead of the newest CID it
        // knows of. R1 follows them in use; R2 carries none of their traffic and has only the start's registration.
        for (var i = 0; i < 30; i++)
        {
            var earlier = await dialer.DialAsync(accepter.NodeId, timeout.Token);
            await Echo.AssertAsync(earlier, await accepter.AcceptAsync(timeout.Token), 1024, timeout.Token);
            await earlier.CloseAsync(cancellationToken: timeout.Token);
        }

        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var accepted = await accepter.AcceptAsync(timeout.Token);
        Assert.Equal(_r1.Address, connection.RemoteEndPoint);

        _r1.Dispose();

        await Echo.AssertAsync(connection, accepted, 1024 * 1024, timeout.Token);
        Assert.Equal(_r2.Address, connection.RemoteEndPoint);
    }

    [Fact]
    public async Task A_relay_that_cannot_be_reached_at_start_does_not_stop_the_peer_when_another_can()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var dead = new IPEndPoint(IPAddress.Loopback, FreeUdpPort());
        var dialerId = NodeIdentity.Generate();
        await using var accepter = await StartAsync(NodeIdentity.Generate(), timeout.Token, [_r2], dialerId.NodeId);
        var options = new PeerEndpointOptions { Identity = dialerId, DirectPaths = false, DialTimeout = TimeSpan.FromSeconds(2) };
        options.Relays.Add(new PeerRelay(dead));
        options.Relays.Add(new PeerRelay(_r2.Address, _r2.Server.NodeId));

        await using var dialer = await PeerEndpoint.StartAsync(options, timeout.Token);

        Assert.Equal([false, true], dialer.Relays.Select(r => r.IsRegistered));
        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        Assert.Equal(_r2.Address, connection.RemoteEndPoint);
        await Echo.AssertAsync(connection, await accepter.AcceptAsync(timeout.Token), 64 * 1024, timeout.Token);

        // The relay comes up: the peer registers there by itself, as after losing it.
        var late = new RelayServerOptions { Threads = 1 };
        late.Listen.Add(PeerAddress.FromEndPoint(dead));
        using var relay = new RelayServer(late);
        relay.Start();
        Assert.True(SpinWait.SpinUntil(() => dialer.Relays[0].IsRegistered, TimeSpan.FromSeconds(30)), "not registered with the relay that came up");
        Assert.Equal(relay.NodeId, dialer.Relays[0].Id);
        Assert.Equal(1, dialer.Relays[0].Registrations);
    }

    [Fact]
    public async Task A_peer_none_of_whose_relays_answers_fails_to_start_naming_each()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var dead1 = new IPEndPoint(IPAddress.Loopback, FreeUdpPort());
        var dead2 = new IPEndPoint(IPAddress.Loopback, FreeUdpPort());
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), DirectPaths = false, DialTimeout = TimeSpan.FromSeconds(2) };
        options.Relays.Add(new PeerRelay(dead1));
        options.Relays.Add(new PeerRelay(dead2));

        var error = await Assert.ThrowsAsync<PeerException>(() => PeerEndpoint.StartAsync(options, timeout.Token));

        Assert.Equal(PeerFailure.RelayUnreachable, error.Failure);
        Assert.StartsWith("No relay could be registered with: ", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Relay {dead1} did not answer", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Relay {dead2} did not answer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_relay_listed_twice_is_refused_with_its_address()
    {
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate() };
        options.Relays.Add(new PeerRelay(_r1.Address));
        options.Relays.Add(new PeerRelay(new IPEndPoint(IPAddress.Loopback, _r1.Address.Port)));

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains($"Relay {_r1.Address} is listed twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Relays_of_two_address_families_are_refused()
    {
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate() };
        options.Relays.Add(new PeerRelay(_r1.Address));
        options.Relays.Add(new PeerRelay(new IPEndPoint(IPAddress.IPv6Loopback, _r2.Address.Port)));

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("one address family", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Relay_and_relays_together_are_refused()
    {
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = _r1.Address };
        options.Relays.Add(new PeerRelay(_r2.Address));

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("not both", error.Message, StringComparison.Ordinal);
    }

    private static RelayServer StartRelay(NodeIdentity identity, int port)
    {
        var options = new RelayServerOptions { Threads = 1, Identity = identity };
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, port)));
        var relay = new RelayServer(options);
        relay.Start();
        return relay;
    }

    private static int FreeUdpPort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static async Task SendInTwoAsync(QuicStream stream, byte[] payload, int first, Task between, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(payload.AsMemory(0, first), endStream: false, cancellationToken);
        await between.WaitAsync(cancellationToken);
        await stream.WriteAsync(payload.AsMemory(first), endStream: true, cancellationToken);
    }

    private static Task<PeerEndpoint> StartAsync(NodeIdentity identity, CancellationToken cancellationToken, LoopbackRelay[] relays, params NodeId[] allowed)
    {
        var options = new PeerEndpointOptions { Identity = identity, DirectPaths = false };
        foreach (var relay in relays)
        {
            options.Relays.Add(new PeerRelay(relay.Address, relay.Server.NodeId));
        }

        foreach (var id in allowed)
        {
            options.AllowedDialers.Add(id);
        }

        return PeerEndpoint.StartAsync(options, cancellationToken);
    }
}
