using System.Runtime.InteropServices;
using QuicPipe.Dataplane;
using QuicPipe.Xdp.Internal;
using Xunit;

namespace QuicPipe.Xdp.Tests;

/// <summary>
/// The route table's placement logic on ordinary memory (no kernel): against a dictionary over many random operations,
/// with the table's invariants checked after each one, and the hash against SipHash's published vector.
/// </summary>
public sealed unsafe class RouteSlotTableTests
{
    [Fact]
    public void SipHash_2_4_gives_the_papers_test_vector()
    {
        // Aumasson and Bernstein, "SipHash: a fast short-input PRF", appendix A: key 00..0f, message 00..0e.
        var message = Enumerable.Range(0, 15).Select(i => (byte)i).ToArray();
        Assert.Equal(0xa129ca6149be45e5UL, CidHash.SipHash(0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL, message, 2, 4));
    }

    [Fact]
    public void The_CID_hash_is_SipHash_1_3_of_the_20_byte_key_under_the_programs_key()
    {
        var key = CidKey.From(new ConnectionId([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
        var expected = CidHash.SipHash(11, 22, key, 1, 3);
        Assert.Equal(expected, CidHash.Compute(11, 22, key));
        Assert.NotEqual(expected, CidHash.Compute(11, 23, key));
    }

    [Theory]
    [InlineData(1u, 16)]
    [InlineData(8u, 16)]
    [InlineData(9u, 32)]
    [InlineData(4096u, 8192)]
    [InlineData(4097u, 16384)]
    [InlineData(262_144u, 524_288)]
    public void The_slot_count_is_the_next_power_of_two_at_or_above_twice_the_capacity(uint capacity, int slots) =>
        Assert.Equal(slots, RouteSlotTable.SlotCountFor(capacity));

    [Theory]
    [InlineData(64, 200, 1)] // CIDs outnumber the slots: full windows, long runs, wrapping
    [InlineData(64, 40, 2)]
    [InlineData(16, 24, 3)] // two windows' worth of slots
    [InlineData(1024, 600, 4)]
    public void Random_sets_replaces_and_removes_agree_with_a_dictionary(int slots, int distinctCids, int seed)
    {
        var random = new Random(seed);
        var cids = Enumerable.Range(0, distinctCids).Select(_ => RandomKey(random)).ToArray();
        using var table = NewTable(slots, random);
        var expected = new Dictionary<int, RouteValue>();
        var refused = 0;

        for (var op = 0; op < 20_000; op++)
        {
            var c = random.Next(cids.Length);
            if (random.Next(3) == 0)
            {
                Assert.Equal(expected.Remove(c), table.Remove(cids[c]));
            }
            else
            {
                var route = RandomRoute(random);
                var wasThere = expected.ContainsKey(c);
                if (table.TrySet(cids[c], route))
                {
                    expected[c] = route;
                }
                else
                {
                    // Only a new CID is refused, and only when its whole window is taken.
                    Assert.False(wasThere);
                    var home = table.HomeOf(cids[c]);
                    for (var i = 0; i < RouteSlotTable.Probes; i++)
                    {
                        Assert.Equal(RouteSlot.Used, table.Slot(home + i).State);
                    }

                    refused++;
                }
            }

            AssertShape(table);
            Assert.Equal(expected.Count, table.Count);
            if (op % 97 == 0 || slots <= 64)
            {
                for (var i = 0; i < cids.Length; i++)
                {
                    var found = table.TryGet(cids[i], out var back);
                    Assert.Equal(expected.TryGetValue(i, out var want), found);
                    if (found)
                    {
                        Assert.True(Same(want, back), $"CID {i}: the route read back is not the one set");
                    }
                }
            }
        }

        if (distinctCids > slots)
        {
            Assert.True(refused > 0, "an overfull table refused nothing: the window limit is not enforced");
        }
    }

    [Fact]
    public void A_half_full_table_refuses_almost_no_route()
    {
        // First-fit placement refuses about 1 route in 200 at load 1/2 (~40 of these 8192); Robin Hood about 1 in 65,000.
        var random = new Random(7);
        using var table = NewTable(16384, random);
        var refused = 0;
        for (var i = 0; i < 8192; i++)
        {
            refused += table.TrySet(RandomKey(random), RandomRoute(random)) ? 0 : 1;
        }

        Assert.True(refused <= 2, $"{refused} of 8192 routes refused at load 1/2");
        AssertShape(table);
    }

    [Fact]
    public void Every_write_leaves_the_slots_sequence_even_and_two_further()
    {
        var random = new Random(5);
        using var table = NewTable(16, random);
        var key = RandomKey(random);
        var home = table.HomeOf(key);

        Assert.True(table.TrySet(key, RandomRoute(random)));
        Assert.Equal(2U, table.Slot(home).Sequence);
        Assert.True(table.TrySet(key, RandomRoute(random)));
        Assert.Equal(4U, table.Slot(home).Sequence);
        Assert.True(table.Remove(key));
        Assert.Equal(6U, table.Slot(home).Sequence);
        Assert.Equal(RouteSlot.Empty, table.Slot(home).State);
    }

    [Fact]
    public void Setting_the_same_route_again_writes_nothing()
    {
        var random = new Random(6);
        using var table = NewTable(16, random);
        var key = RandomKey(random);
        var route = RandomRoute(random);

        Assert.True(table.TrySet(key, route));
        Assert.True(table.TrySet(key, route));
        Assert.Equal(2U, table.Slot(table.HomeOf(key)).Sequence);
    }

    /// <summary>
    /// What the program relies on: each used slot is within its window, with no empty slot between its home and it (a
    /// probe stops at the first empty slot), no CID twice, and no write left half done.
    /// </summary>
    private static void AssertShape(RouteSlotTable table)
    {
        var seen = new HashSet<string>();
        for (var index = 0; index < table.SlotCount; index++)
        {
            ref readonly var slot = ref table.Slot(index);
            Assert.Equal(0U, slot.Sequence & 1);
            if (slot.State != RouteSlot.Used)
            {
                continue;
            }

            var home = table.HomeOf(slot.Cid);
            var distance = (index - home) & (table.SlotCount - 1);
            Assert.True(distance < RouteSlotTable.Probes, $"slot {index} is {distance} slots from its home {home}");
            for (var d = 0; d < distance; d++)
            {
                Assert.Equal(RouteSlot.Used, table.Slot(home + d).State);
            }

            Assert.True(seen.Add(Convert.ToHexString(slot.Cid)), $"slot {index}: a CID held twice");
        }
    }

    private static RouteSlotTable NewTable(int slots, Random random) =>
        new(new NativeSlots(slots), slots, (ulong)random.NextInt64(), (ulong)random.NextInt64());

    private static CidKey RandomKey(Random random)
    {
        var bytes = new byte[12];
        random.NextBytes(bytes);
        return CidKey.From(new ConnectionId(bytes));
    }

    private static RouteValue RandomRoute(Random random)
    {
        var route = default(RouteValue);
        random.NextBytes(route.PeerAddress);
        random.NextBytes(route.RelayAddress);
        route.PeerPortBigEndian = (ushort)random.Next(1, 65536);
        route.Family = (byte)(random.Next(2) == 0 ? PeerAddress.AfInet : PeerAddress.AfInet6);
        return route;
    }

    private static bool Same(RouteValue a, RouteValue b) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<RouteValue>(in a)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<RouteValue>(in b)));

    /// <summary>Zeroed, cache-line-aligned native memory for a table, as the kernel's mapping would be.</summary>
    private sealed class NativeSlots : SafeHandle
    {
        public NativeSlots(int slots)
            : base(0, ownsHandle: true)
        {
            var bytes = (nuint)slots * (nuint)sizeof(RouteSlot);
            var memory = NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear(memory, bytes);
            SetHandle((nint)memory);
        }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            NativeMemory.AlignedFree((void*)handle);
            return true;
        }
    }
}
