using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane;
using QuicPipe.Lab;
using QuicPipe.Xdp;
using Xunit;

namespace QuicPipe.Relay.Tests;

/// <summary>
/// The relay with <c>--xdp</c> (through the server builder) on a veth in namespaces the test made: the relay in one, a sender and the
/// routed peer in the other. Which path forwarded a packet shows in the counters: the program's tx for
/// the driver, the relay's forwarded for userspace.
/// </summary>
[Collection(nameof(RelayXdpLabTests))]
[CollectionDefinition(nameof(RelayXdpLabTests), DisableParallelization = true)]
public sealed class RelayXdpLabTests : IDisposable
{
    private const int RelayPort = 4433;
    private const int PeerPort = 5001;
    private const int SenderPort = 5002;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly string _routesPath = Path.Combine(Path.GetTempPath(), $"quicpipe-xdp-routes-{Guid.NewGuid():N}.txt");
    private readonly List<IDisposable> _owned = [];
    private NetworkLab _lab = null!;
    private BuiltRelay _relay = null!;
    private Socket _peer = null!;
    private Socket _sender = null!;

    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        File.Delete(_routesPath);
    }

    [RootFact]
    public void A_routed_datagram_is_forwarded_by_XDP_TX_not_by_userspace()
    {
        var cid = RelayForwardingStageTests.Cid(1);
        StartLab(cid);

        var packet = RelayForwardingStageTests.ShortPacket(cid, 100);
        _sender.SendTo(packet, RelayEndPoint);
        var (data, from) = Receive(_peer);

        Assert.Equal(packet, data);
        Assert.Equal(RelayEndPoint, from);
        var stats = _relay.Snapshot();
        Assert.NotNull(stats.Xdp);
        Assert.Equal(XdpAttachMode.Native, stats.Xdp.Mode);
        Assert.Equal(1UL, stats.Xdp.Program.Transmitted);
        Assert.Equal(0, stats.Xdp.TransmitErrors);
        Assert.Equal(0, stats.Packets.Received);
        Assert.Equal(0, stats.Packets.Forwarded);
    }

    [RootFact]
    public void Frames_veth_drops_because_the_other_end_runs_no_XDP_program_count_as_transmit_errors()
    {
        var cid = RelayForwardingStageTests.Cid(4);
        StartLab(cid, peerRunsXdp: false);
        _peer.ReceiveTimeout = 500;

        const int Sent = 5;
        for (var i = 0; i < Sent; i++)
        {
            _sender.SendTo(RelayForwardingStageTests.ShortPacket(cid, 60), RelayEndPoint);
        }

        // The program bounced every frame and counts them as transmitted; veth dropped them all, and only its
        // statistics say so.
        Assert.True(WaitUntil(() => _relay.Snapshot().Xdp!.TransmitErrors == Sent), $"transmit errors {_relay.Snapshot().Xdp!.TransmitErrors}; {Describe(_relay.Snapshot())}");
        Assert.Equal((ulong)Sent, _relay.Snapshot().Xdp!.Program.Transmitted);
        Assert.Throws<SocketException>(() => _peer.Receive(new byte[2048]));
    }

    [RootFact]
    public void A_route_added_by_a_reload_reaches_the_map_and_a_removed_one_leaves_it()
    {
        var first = RelayForwardingStageTests.Cid(1);
        var added = RelayForwardingStageTests.Cid(2);
        StartLab(first);

        WriteRoutes(added);
        Assert.Equal(1, _relay.Relay.ReloadRoutes());
        var program = _relay.Program;
        Assert.True(program.TryGetRoute(added, out var route));
        Assert.Equal(PeerEndPoint, route.Peer.ToEndPoint());
        Assert.False(program.TryGetRoute(first, out _));

        _sender.SendTo(RelayForwardingStageTests.ShortPacket(added), RelayEndPoint);
        Receive(_peer);
        var stats = _relay.Snapshot();
        Assert.Equal(1UL, stats.Xdp!.Program.Transmitted);
        Assert.Equal(0, stats.Packets.Forwarded);

        // The removed CID now misses: passed to userspace, which drops it, and nothing is put back.
        _sender.SendTo(RelayForwardingStageTests.ShortPacket(first), RelayEndPoint);
        Assert.True(WaitUntil(() => _relay.Snapshot() is { Xdp.MissesIgnored: 1, Packets.DroppedTotal: 1 }), $"stats: {Describe(_relay.Snapshot())}");
        Assert.False(program.TryGetRoute(first, out _));
    }

    [RootFact]
    public void A_miss_for_a_routed_CID_is_forwarded_by_userspace_and_put_back_in_the_map()
    {
        var cid = RelayForwardingStageTests.Cid(1);
        StartLab(cid);
        var program = _relay.Program;
        Assert.True(program.RemoveRoute(cid)); // behind the relay's back: the program misses it, as it misses a route its table refused

        var first = RelayForwardingStageTests.ShortPacket(cid, 30);
        _sender.SendTo(first, RelayEndPoint);
        var (data, from) = Receive(_peer);
        Assert.Equal(first, data);
        Assert.Equal(RelayEndPoint, from);
        Assert.True(WaitUntil(() => _relay.Snapshot().Xdp!.MissesReinserted == 1), $"stats: {Describe(_relay.Snapshot())}");
        Assert.True(program.TryGetRoute(cid, out _));
        var afterMiss = _relay.Snapshot();
        Assert.Equal(1, afterMiss.Packets.Forwarded);
        Assert.Equal(1UL, afterMiss.Xdp!.Program.Missed);
        Assert.Equal(0UL, afterMiss.Xdp.Program.Transmitted);

        var second = RelayForwardingStageTests.ShortPacket(cid, 31);
        _sender.SendTo(second, RelayEndPoint);
        Assert.Equal(second, Receive(_peer).Data);
        var stats = _relay.Snapshot();
        Assert.Equal(1UL, stats.Xdp!.Program.Transmitted);
        Assert.Equal(1, stats.Packets.Forwarded);
    }

    [RootFact]
    public void Routes_the_table_cannot_place_stay_with_userspace_which_forwards_them_and_counts_them()
    {
        // 40 routes for a table sized for 1 (16 slots): at least 24 cannot be offloaded.
        var cids = Enumerable.Range(100, 40).Select(RelayForwardingStageTests.Cid).ToArray();
        StartLab(cids, routeCapacity: 1);
        var program = _relay.Program;
        Assert.Equal(16, program.RouteSlots);
        var refused = _relay.Snapshot().Xdp!.RoutesNotOffloaded;
        Assert.True(refused >= 24, $"{refused} routes not offloaded");
        Assert.Equal(cids.Length - refused, program.RouteCount);
        var stayed = cids.First(cid => !program.TryGetRoute(cid, out _));
        var offloaded = cids.First(cid => program.TryGetRoute(cid, out _));

        var packet = RelayForwardingStageTests.ShortPacket(stayed, 50);
        _sender.SendTo(packet, RelayEndPoint);
        Assert.Equal(packet, Receive(_peer).Data);
        // Userspace forwarded it (its counter moves after the send, so perhaps after the peer has the packet); the miss
        // tried to put the route back, and the table refused it again.
        Assert.True(
            WaitUntil(() => _relay.Snapshot() is { Packets.Forwarded: 1 } s && s.Xdp!.RoutesNotOffloaded == refused + 1),
            $"stats: {Describe(_relay.Snapshot())}");
        var afterMiss = _relay.Snapshot();
        Assert.Equal(1UL, afterMiss.Xdp!.Program.Missed);
        Assert.Equal(0, afterMiss.Xdp.MissesReinserted);

        _sender.SendTo(RelayForwardingStageTests.ShortPacket(offloaded, 51), RelayEndPoint);
        Receive(_peer);
        var stats = _relay.Snapshot();
        Assert.Equal(1UL, stats.Xdp!.Program.Transmitted);
        Assert.Equal(1, stats.Packets.Forwarded);
    }

    private IPEndPoint RelayEndPoint => new(_lab.RelayAddress, RelayPort);

    private IPEndPoint PeerEndPoint => new(_lab.PeerAddress, PeerPort);

    private void StartLab(ConnectionId routed, bool peerRunsXdp = true) => StartLab([routed], peerRunsXdp: peerRunsXdp);

    private void StartLab(ConnectionId[] routed, uint routeCapacity = 1024, bool peerRunsXdp = true)
    {
        _lab = Own(new NetworkLab());
        WriteRoutes(routed);
        // The routes file is loaded by the relay before the offload attaches: the offload copies them into its map.
        var options = new RelayOptions { RoutesFile = _routesPath };
        var xdp = new RelayXdpOptions { Interface = NetworkLab.RelayInterface, RouteCapacity = routeCapacity };
        _relay = Own(NetworkLab.InNamespace(_lab.RelayNamespace, () => BuiltRelay.Start(options, RelayEndPoint, xdp)));

        // veth delivers XDP_TX frames only to a peer running NAPI, which an XDP program there turns on;
        // a program that sees no relay port passes everything.
        if (peerRunsXdp)
        {
            var passProgram = Own(XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 16, MissBufferBytes = 4096 }));
            Own(NetworkLab.InNamespace(_lab.PeerNamespace, () => passProgram.Attach(NetworkLab.PeerInterface, XdpAttachMode.Native, allowGenericFallback: false)));
        }

        _peer = Own(NetworkLab.InNamespace(_lab.PeerNamespace, () => Bound(_lab.PeerAddress, PeerPort)));
        _sender = Own(NetworkLab.InNamespace(_lab.PeerNamespace, () => Bound(_lab.PeerAddress, SenderPort)));
    }

    private void WriteRoutes(params ConnectionId[] cids) =>
        File.WriteAllLines(_routesPath, cids.Select(cid => $"{cid} {_lab.PeerAddress}:{PeerPort}"));

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static Socket Bound(IPAddress address, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)Timeout.TotalMilliseconds };
        socket.Bind(new IPEndPoint(address, port));
        return socket;
    }

    private (byte[] Data, IPEndPoint From) Receive(Socket socket)
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        try
        {
            var n = socket.ReceiveFrom(buffer, ref from);
            return (buffer[..n], (IPEndPoint)from);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            throw new TimeoutException($"nothing arrived at {socket.LocalEndPoint} within {Timeout}; {Describe(_relay.Snapshot())}", e);
        }
    }

    private static bool WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Timeout)
            {
                return false;
            }

            Thread.Sleep(10);
        }

        return true;
    }

    private static string Describe(RelayStats s) =>
        $"relay rx {s.Packets.Received} fwd {s.Packets.Forwarded} drop {s.Packets.DroppedTotal}; xdp {s.Xdp?.Program}, reinserted {s.Xdp?.MissesReinserted}, ignored {s.Xdp?.MissesIgnored}, not offloaded {s.Xdp?.RoutesNotOffloaded}";
}
