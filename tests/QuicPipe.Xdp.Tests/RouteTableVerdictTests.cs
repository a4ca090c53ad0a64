using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Xdp.Tests;

/// <summary>
/// The route table as the program reads it (BPF_PROG_TEST_RUN), in a table small enough to force collisions: 16 slots
/// (route capacity 8), so CIDs share windows, runs wrap around the end, and windows fill. Each test loads its own
/// program, so no route of another test is in the way.
/// </summary>
public sealed class RouteTableVerdictTests
{
    private const int RelayPort = XdpProgramFixture.RelayPort;
    private static readonly IPAddress Client = IPAddress.Parse("198.51.100.7");
    private static readonly IPAddress Relay = IPAddress.Parse("203.0.113.1");

    [RootFact]
    public void Routes_sharing_one_window_are_all_found_and_each_rewritten_to_its_own_peer()
    {
        using var program = Load();
        var home = 13; // the window wraps: slots 13, 14, 15, 0, ..., 4
        var cids = CidsWithHome(program, home, RouteSlotsPerWindow);
        for (var i = 0; i < cids.Length; i++)
        {
            Assert.True(program.SetRoute(RouteTo(cids[i], i)));
        }

        Assert.Equal(RouteSlotsPerWindow, program.RouteCount);
        for (var i = 0; i < cids.Length; i++)
        {
            AssertForwarded(program, cids[i], i);
        }
    }

    [RootFact]
    public void A_route_whose_window_is_full_is_not_offloaded_and_its_packets_pass_as_misses()
    {
        using var program = Load();
        var cids = CidsWithHome(program, 5, RouteSlotsPerWindow + 1);
        var batch = cids.Select((cid, i) => RouteTo(cid, i)).ToArray();

        Assert.Equal(1, program.SetRoutes(batch));
        Assert.Equal(1, program.RoutesNotOffloaded);
        Assert.False(program.TryGetRoute(cids[^1], out _));
        Assert.False(program.SetRoute(batch[^1])); // and again: each refusal counts
        Assert.Equal(2, program.RoutesNotOffloaded);

        var before = program.ReadCounters();
        var frame = Frame(cids[^1]);
        var output = new byte[frame.Length + 64];
        Assert.Equal(XdpAction.Pass, program.TestRun(frame, output, out var length));
        Assert.Equal(frame, output[..length]);
        var after = program.ReadCounters();
        Assert.Equal(1UL, after.Missed - before.Missed);
        Assert.Equal(0UL, after.Transmitted - before.Transmitted);

        // The eight that fit are all forwarded; once one goes, the refused one fits.
        for (var i = 0; i < RouteSlotsPerWindow; i++)
        {
            AssertForwarded(program, cids[i], i);
        }

        Assert.True(program.RemoveRoute(cids[2]));
        Assert.True(program.SetRoute(batch[^1]));
        AssertForwarded(program, cids[^1], cids.Length - 1);
    }

    [RootFact]
    public void Removing_routes_in_random_order_keeps_every_other_route_reachable()
    {
        var random = new Random(16);
        for (var round = 0; round < 4; round++)
        {
            using var program = Load();
            var cids = Enumerable.Range(0, 12).Select(_ => XdpProgramFixture.NewCid()).ToArray();
            var live = new List<int>();
            for (var i = 0; i < cids.Length; i++)
            {
                if (program.SetRoute(RouteTo(cids[i], i)))
                {
                    live.Add(i);
                }
            }

            Assert.True(live.Count >= 8, $"only {live.Count} of 12 routes fit in 16 slots");
            var removed = new List<int>();
            while (live.Count > 0)
            {
                var gone = live[random.Next(live.Count)];
                Assert.True(program.RemoveRoute(cids[gone]));
                live.Remove(gone);
                removed.Add(gone);
                foreach (var i in live)
                {
                    AssertForwarded(program, cids[i], i);
                }

                foreach (var i in removed)
                {
                    AssertMissed(program, cids[i]);
                }
            }

            Assert.Equal(0, program.RouteCount);
        }
    }

    [RootFact]
    public void Setting_a_routed_CID_again_replaces_its_route_in_place()
    {
        using var program = Load();
        var cids = CidsWithHome(program, 0, 3);
        for (var i = 0; i < cids.Length; i++)
        {
            Assert.True(program.SetRoute(RouteTo(cids[i], i)));
        }

        Assert.True(program.SetRoute(RouteTo(cids[1], 7)));

        Assert.Equal(3, program.RouteCount);
        AssertForwarded(program, cids[0], 0);
        AssertForwarded(program, cids[1], 7);
        AssertForwarded(program, cids[2], 2);
        Assert.True(program.TryGetRoute(cids[1], out var back));
        Assert.Equal(RouteTo(cids[1], 7).Peer.ToEndPoint(), back.Peer.ToEndPoint());
    }

    [RootFact]
    public void A_route_rewritten_while_the_program_reads_it_is_never_seen_half_written()
    {
        // Two routes for one CID that differ in every byte the rewrite uses; a writer flips between them while this thread
        // runs the program. Each bounced frame must carry one route whole (the seqlock), never a mix of the two.
        using var program = Load();
        var cid = XdpProgramFixture.NewCid();
        var a = new XdpRoute(cid, PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("10.1.1.1"), 0x1111)), PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.11"), 0)));
        var b = new XdpRoute(cid, PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("172.22.22.22"), 0x2222)), PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("198.51.100.22"), 0)));
        program.SetRoute(a);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var writer = Task.Run(() =>
        {
            var writes = 0;
            while (!stop.IsCancellationRequested)
            {
                program.SetRoute(writes++ % 2 == 0 ? b : a);
            }

            return writes;
        });

        var frame = Frame(cid);
        var output = new byte[frame.Length + 64];
        int forwarded = 0, passed = 0;
        while (!stop.IsCancellationRequested)
        {
            if (program.TestRun(frame, output, out var length) == XdpAction.Tx)
            {
                var rewritten = new ParsedFrame(output.AsSpan(0, length));
                var route = rewritten.Destination.Equals(a.Peer.ToEndPoint().Address) ? a : b;
                Assert.Equal(route.Peer.ToEndPoint(), new IPEndPoint(rewritten.Destination, rewritten.DestinationPort));
                Assert.Equal(route.RelaySource.ToEndPoint().Address, rewritten.Source);
                Assert.True(rewritten.UdpChecksumValid);
                forwarded++;
            }
            else
            {
                passed++;
            }
        }

        Assert.True(writer.Wait(TimeSpan.FromSeconds(5)));
        var counters = program.ReadCounters();
        Assert.True(forwarded > 0, $"nothing forwarded in {passed} runs");
        Assert.Equal((ulong)passed, counters.PassedBusy + counters.Missed); // a pass is a busy slot, never anything else
        Assert.Equal(0UL, counters.Missed); // the CID is routed throughout: replacing in place never hides it
    }

    private const int RouteSlotsPerWindow = 8; // QP_ROUTE_PROBES

    private static XdpProgram Load()
    {
        var program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 8, MissBufferBytes = 4096 });
        Assert.Equal(16, program.RouteSlots);
        program.AddPort(RelayPort);
        return program;
    }

    /// <summary><paramref name="count"/> distinct CIDs whose probe starts at slot <paramref name="home"/> (1 in 16 random ones does).</summary>
    private static ConnectionId[] CidsWithHome(XdpProgram program, int home, int count)
    {
        var cids = new List<ConnectionId>();
        while (cids.Count < count)
        {
            var cid = XdpProgramFixture.NewCid();
            if (program.HomeSlotOf(cid) == home)
            {
                cids.Add(cid);
            }
        }

        return [.. cids];
    }

    /// <summary>Route number <paramref name="n"/>: a peer address and port of its own, so a rewrite shows which route it used.</summary>
    private static XdpRoute RouteTo(ConnectionId cid, int n) =>
        new(cid, PeerAddress.FromEndPoint(new IPEndPoint(new IPAddress([192, 0, 2, (byte)(10 + n)]), 60000 + n)));

    private static byte[] Frame(ConnectionId cid) =>
        new PacketBuilder { Source = Client, Destination = Relay, DestinationPort = RelayPort }.Build(PacketBuilder.QuicShort(cid));

    private static void AssertForwarded(XdpProgram program, ConnectionId cid, int n)
    {
        var frame = Frame(cid);
        var output = new byte[frame.Length + 64];
        Assert.Equal(XdpAction.Tx, program.TestRun(frame, output, out var length));
        var rewritten = new ParsedFrame(output.AsSpan(0, length));
        Assert.Equal(RouteTo(cid, n).Peer.ToEndPoint(), new IPEndPoint(rewritten.Destination, rewritten.DestinationPort));
        Assert.Equal(Relay, rewritten.Source);
        Assert.Equal(RelayPort, rewritten.SourcePort);
        Assert.True(rewritten.IPv4HeaderChecksumValid);
        Assert.True(rewritten.UdpChecksumValid);
    }

    private static void AssertMissed(XdpProgram program, ConnectionId cid)
    {
        var before = program.ReadCounters().Missed;
        var frame = Frame(cid);
        var output = new byte[frame.Length + 64];
        Assert.Equal(XdpAction.Pass, program.TestRun(frame, output, out _));
        Assert.Equal(before + 1, program.ReadCounters().Missed);
    }
}
