using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// Direct paths on loopback, through a real relay: a dial starts relayed, the peers' probes meet, and the dialer
/// moves the live connection onto the direct path. The NAT matrix, rebinding and fallback run in the NAT lab
/// (tests/QuicPipe.Lab.Tests/PeerTraversalTests.cs).
/// </summary>
public sealed class DirectPathTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly LoopbackRelay _relay = new();

    public void Dispose() => _relay.Dispose();

    [Fact]
    public async Task A_dial_starts_relayed_then_both_sides_move_to_the_direct_path_without_losing_a_byte()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        await using var accepter = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: true, timeout.Token, a.NodeId);
        await using var dialer = await _relay.StartPeerAsync(a, directPaths: true, timeout.Token);

        var client = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var clientPath = dialer.GetPath(client);
        // On loopback the dialer may have moved already (the probes meet within milliseconds).
        var wentDirect = clientPath.Kind == PeerPathKind.Direct ? Task.FromResult(clientPath.Remote) : WaitForAsync(clientPath, PeerPathKind.Direct);
        Assert.Equal(_relay.Address, clientPath.InitialRemote); // every dial starts on the relay
        var server = await accepter.AcceptAsync(timeout.Token);
        var serverPath = accepter.GetPath(server);
        var serverWentDirect = serverPath.Kind == PeerPathKind.Direct ? Task.FromResult(serverPath.Remote) : WaitForAsync(serverPath, PeerPathKind.Direct);

        // 32 MiB both ways while the connection moves: the switch happens mid-transfer.
        await Echo.AssertAsync(client, server, 32 * 1024 * 1024, timeout.Token);

        Assert.Equal(accepter.PublicEndPoint, await wentDirect.WaitAsync(TimeSpan.FromSeconds(5), timeout.Token));
        Assert.Equal(dialer.PublicEndPoint, await serverWentDirect.WaitAsync(TimeSpan.FromSeconds(5), timeout.Token));
        await Echo.AssertAsync(client, server, 1024 * 1024, timeout.Token); // and on the direct path alone
        var traffic = await clientPath.GetTrafficAsync(timeout.Token);
        Assert.True(traffic.ViaRelay > 0, $"the handshake crossed the relay: {traffic}");
        Assert.True(traffic.Direct > 1024 * 1024, $"at least the last echo went direct: {traffic}");
        Assert.True(dialer.ProbeCounters.PongsReceived > 0);
    }

    [Fact]
    public async Task An_offer_dial_with_no_signalling_asks_for_candidates_once_connected_and_moves_to_the_direct_path()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        await using var accepter = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: true, timeout.Token); // no allow list: the offer allows
        await using var dialer = await _relay.StartPeerAsync(a, directPaths: true, timeout.Token);

        var offer = dialer.CreateOffer();
        await accepter.AcceptOfferAsync(offer, timeout.Token);
        var client = await dialer.DialOfferAsync(offer, accepter.NodeId, TimeSpan.FromSeconds(10), timeout.Token);
        var clientPath = dialer.GetPath(client);
        var wentDirect = clientPath.Kind == PeerPathKind.Direct ? Task.FromResult(clientPath.Remote) : WaitForAsync(clientPath, PeerPathKind.Direct);
        var server = await accepter.AcceptAsync(timeout.Token);
        Assert.Equal(_relay.Address, clientPath.InitialRemote);

        await Echo.AssertAsync(client, server, 4 * 1024 * 1024, timeout.Token);
        Assert.Equal(accepter.PublicEndPoint, await wentDirect.WaitAsync(TimeSpan.FromSeconds(10), timeout.Token));
        await Echo.AssertAsync(client, server, 1024 * 1024, timeout.Token);
        Assert.True((await clientPath.GetTrafficAsync(timeout.Token)).Direct > 1024 * 1024);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task When_either_side_turns_direct_paths_off_the_connection_stays_relayed(bool dialerDirect, bool accepterDirect)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        await using var accepter = await _relay.StartPeerAsync(NodeIdentity.Generate(), accepterDirect, timeout.Token, a.NodeId);
        await using var dialer = await _relay.StartPeerAsync(a, dialerDirect, timeout.Token);

        var client = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var server = await accepter.AcceptAsync(timeout.Token);
        await Echo.AssertAsync(client, server, 256 * 1024, timeout.Token);
        await Task.Delay(TimeSpan.FromSeconds(2), timeout.Token); // on loopback a direct path is found within milliseconds

        Assert.Equal(PeerPathKind.Relayed, dialer.GetPath(client).Kind);
        Assert.Equal(0, dialer.ProbeCounters.PingsSent + accepter.ProbeCounters.PingsSent);
        Assert.Equal(0, dialer.GetPath(client).Changes);
    }

    [Fact]
    public async Task Probes_with_an_unknown_token_and_garbage_are_dropped_unanswered()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var peer = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: true, timeout.Token);
        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        stranger.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        stranger.ReceiveTimeout = 500;
        var target = new IPEndPoint(IPAddress.Loopback, peer.LocalEndPoint.Port);

        var probe = new byte[PunchProbe.Length];
        PunchProbe.Write(probe, PunchProbeKind.Ping, RandomNumberGenerator.GetBytes(PunchProbe.TokenLength), 1);
        stranger.SendTo(probe, target);
        stranger.SendTo(probe.AsSpan(0, 29).ToArray(), target);
        stranger.SendTo([0x00, (byte)'Q', (byte)'P'], target);
        stranger.SendTo(RandomNumberGenerator.GetBytes(1200), target);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (peer.ProbeCounters.UnknownToken == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, timeout.Token);
        }

        Assert.Equal(1, peer.ProbeCounters.UnknownToken);
        Assert.Equal(0, peer.ProbeCounters.PingsAnswered);
        var error = Assert.Throws<SocketException>(() => stranger.Receive(new byte[64]));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
    }

    private static Task<IPEndPoint> WaitForAsync(PeerPath path, PeerPathKind kind)
    {
        var reached = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        path.Changed += (_, e) =>
        {
            if (e.Kind == kind)
            {
                reached.TrySetResult(e.Remote);
            }
        };
        return reached.Task;
    }
}
