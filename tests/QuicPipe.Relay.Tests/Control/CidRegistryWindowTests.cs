using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Relay.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

/// <summary>The sliding window: forwarding a CID in the upper half of a window moves the window on.</summary>
public class CidRegistryWindowTests
{
    private static readonly PeerAddress Sender = Address(4000);

    [Fact]
    public void Only_the_upper_half_of_a_window_reports_use()
    {
        var f = new RegistryFixture();
        var key = Key(1);
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 8));

        for (uint c = 1; c <= 8; c++)
        {
            Assert.True(f.Table.TryGet(Derived(key, c), out var route));
            Assert.Equal(c >= 5, (route.OwnerId & RouteFlags.ReportUse) != 0);
        }
    }

    [Fact]
    public void Forwarding_a_CID_in_the_upper_half_extends_the_window_past_it()
    {
        var f = new RegistryFixture();
        var key = Key(1);
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 8));

        Forward(f, Derived(key, 6));
        Assert.Equal(1, f.Registry.ProcessRouteUses());

        // Counters up to 6 + 8 are routed, and the flags moved to the new upper half.
        for (uint c = 1; c <= 14; c++)
        {
            Assert.True(f.Routes(Derived(key, c), Address(5000)), $"counter {c}");
        }

        Assert.False(f.Routes(Derived(key, 15)));
        Assert.True(f.Table.TryGet(Derived(key, 6), out var used));
        Assert.Equal(0UL, used.OwnerId & RouteFlags.ReportUse);
        Assert.True(f.Table.TryGet(Derived(key, 11), out var ahead));
        Assert.NotEqual(0UL, ahead.OwnerId & RouteFlags.ReportUse);
    }

    [Fact]
    public void Forwarding_a_CID_in_the_lower_half_reports_nothing()
    {
        var f = new RegistryFixture();
        var key = Key(1);
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 8));

        Forward(f, Derived(key, 2));

        Assert.Equal(0, f.Registry.ProcessRouteUses());
        Assert.False(f.Routes(Derived(key, 9)));
    }

    [Fact]
    public void After_many_advances_the_identity_stays_within_quota_and_the_newest_counters_are_routed()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxCidsPerIdentity = 20 });
        var key = Key(1);
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 16));
        uint highestUsed = 0;
        for (var step = 0; step < 500; step++)
        {
            // The peer rotates onto the highest CID that reports use.
            var cids = f.Registry.CidsOf(Node(1));
            var next = cids.Where(c => f.Table.TryGet(c, out var r) && (r.OwnerId & RouteFlags.ReportUse) != 0)
                .Select(c => Counter(key, c, highestUsed)).Max();
            Forward(f, Derived(key, next));
            f.Registry.ProcessRouteUses();
            highestUsed = next;
            Assert.True(f.Registry.Snapshot().Cids <= 20);
        }

        Assert.True(highestUsed > 1000, $"the window moved only to {highestUsed}");
        Assert.True(f.Routes(Derived(key, highestUsed), Address(5000)));
        Assert.True(f.Routes(Derived(key, highestUsed + 1), Address(5000)));
        Assert.False(f.Routes(Derived(key, 1)));
        Assert.True(f.Table.Count <= 20);
        Assert.Equal(500, f.Registry.Snapshot().WindowAdvances);
    }

    [Fact]
    public void A_full_use_queue_drops_notices_instead_of_blocking()
    {
        var queue = new RouteUseQueue(4);
        for (var i = 0; i < 10; i++)
        {
            queue.OnRouteUsed(Cid(i));
        }

        Assert.Equal(6, queue.Dropped);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(queue.TryDequeue(out var cid));
            Assert.Equal(Cid(i), cid);
        }

        Assert.False(queue.TryDequeue(out _));
        queue.OnRouteUsed(Cid(42));
        Assert.True(queue.TryDequeue(out var again));
        Assert.Equal(Cid(42), again);
    }

    /// <summary>Runs one packet to <paramref name="cid"/> through the real forwarding stage with the registry's sink.</summary>
    private static void Forward(RegistryFixture f, ConnectionId cid)
    {
        var batch = new PacketBatch(1);
        batch.Add(RelayForwardingStageTests.ShortPacket(cid), Sender);
        new PipelineBuilder().UseQuicHeaderParsing(12).UseRelayForwarding(f.Table, f.Registry.RouteUseSink).Build()(batch);
        Assert.Equal(PacketVerdict.Forward, batch.Verdicts[0]);
    }

    /// <summary>The counter a derived CID was made from, searched near the last one used.</summary>
    private static uint Counter(byte[] key, ConnectionId cid, uint near)
    {
        for (var c = near > 64 ? near - 64 : 1; c < near + 1024; c++)
        {
            if (Derived(key, c) == cid)
            {
                return c;
            }
        }

        throw new InvalidOperationException($"{cid} is not derived near counter {near}");
    }
}
