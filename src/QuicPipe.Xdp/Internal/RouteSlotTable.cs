using System.Numerics;
using System.Runtime.InteropServices;
using QuicPipe.Xdp.Interop;

namespace QuicPipe.Xdp.Internal;

/// <summary>
/// The program's route table (<c>qp_routes</c>) as userspace writes it: 64-byte slots in a power-of-two array, written in
/// place through a shared mapping while the program reads them. A route lives at its home slot (its key's
/// <see cref="CidHash"/> masked) or within <see cref="Probes"/> slots after it, with no empty slot in between: linear
/// probing in Robin Hood order, removals shifting later entries back (no tombstones), so a probe ends at the first empty
/// slot, here and in the program alike. A route that cannot be placed within its window is refused: its packets miss
/// and userspace forwards them.
/// <para>
/// Every slot write is a seqlock write (<see cref="Write"/>), so the program never uses a half-written slot. One writer
/// at a time: the owner serialises every call (XdpProgram holds its lock). Reads here are the writer's own and need no
/// protocol.
/// </para>
/// </summary>
internal sealed unsafe class RouteSlotTable : IDisposable
{
    /// <summary><c>QP_ROUTE_PROBES</c>: slots a lookup reads at most, from the home slot on.</summary>
    public const int Probes = 8;

    /// <summary>Fewest slots: two windows, so no window overlaps itself.</summary>
    public const int MinimumSlots = 2 * Probes;

    /// <summary>Most slots: 2^28, 16 GiB of table.</summary>
    public const int MaximumSlots = 1 << 28;

    private readonly SafeHandle _memory;
    private readonly RouteSlot* _slots;
    private readonly uint _mask;
    private readonly ulong _k0;
    private readonly ulong _k1;

    /// <summary>Over <paramref name="slotCount"/> zeroed (or table-shaped) slots that <paramref name="memory"/> owns; disposing the table releases it.</summary>
    public RouteSlotTable(SafeHandle memory, int slotCount, ulong k0, ulong k1)
    {
        if (slotCount < MinimumSlots || slotCount > MaximumSlots || !int.IsPow2(slotCount))
        {
            throw new ArgumentOutOfRangeException(nameof(slotCount), slotCount, $"A route table has a power of two of slots, {MinimumSlots} to {MaximumSlots}.");
        }

        _memory = memory;
        _slots = (RouteSlot*)memory.DangerousGetHandle();
        _mask = (uint)slotCount - 1;
        _k0 = k0;
        _k1 = k1;
    }

    public int SlotCount => (int)_mask + 1;

    /// <summary>Routes in the table.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Slots for a table meant to hold <paramref name="routeCapacity"/> routes: the next power of two at or above twice
    /// as many, so the load stays at or under one half (at most 4 slots a route, 256 bytes; 128 when the capacity is a
    /// power of two), and at least <see cref="MinimumSlots"/>.
    /// </summary>
    public static int SlotCountFor(uint routeCapacity)
    {
        var wanted = Math.Max(2UL * routeCapacity, MinimumSlots);
        return wanted > MaximumSlots
            ? throw new ArgumentOutOfRangeException(nameof(routeCapacity), routeCapacity, $"At most {MaximumSlots / 2} routes.")
            : (int)BitOperations.RoundUpToPowerOf2((uint)wanted);
    }

    /// <summary>Maps the program's route map (<paramref name="mapFd"/>, created <c>BPF_F_MMAPABLE</c>) and keys it as the program is keyed.</summary>
    public static RouteSlotTable Map(int mapFd, int slotCount, ulong k0, ulong k1) =>
        new(SafeMemoryMappingHandle.MapShared(mapFd, (nuint)slotCount * (nuint)sizeof(RouteSlot), "qp_routes"), slotCount, k0, k1);

    /// <summary>The slot a key's probe starts at.</summary>
    public int HomeOf(CidKey key) => (int)((uint)CidHash.Compute(_k0, _k1, key) & _mask);

    /// <summary>Slot <paramref name="index"/> as it is now (tests check the table's shape through this).</summary>
    public ref readonly RouteSlot Slot(int index) => ref _slots[index & _mask];

    /// <summary>
    /// Adds the route, or replaces the key's route in place (an identical one is left alone, so re-adding a route the
    /// program already has never makes its readers wait). False when the key is new and no placement keeps every route
    /// within its window.
    /// <para>
    /// A new route goes in Robin Hood order: at the first slot of its window that is empty or holds a route whose home
    /// is after its own, the routes from there to the next empty slot moving one slot on. Lookups are unchanged (the
    /// same probe from the home slot), but full windows are far rarer than with first-fit: at load 1/2, about 1 route in
    /// 65,000 is refused instead of 1 in 200, since a route can take the place of one that has slots to spare.
    /// </para>
    /// </summary>
    public bool TrySet(CidKey key, in RouteValue route)
    {
        var existing = Find(key);
        if (existing >= 0)
        {
            ref var slot = ref _slots[existing];
            if (!Same(slot.Route, route))
            {
                Write(ref slot, key, route);
            }

            return true;
        }

        var home = (uint)HomeOf(key);
        for (var i = 0u; i < Probes; i++)
        {
            var index = (home + i) & _mask;
            if (_slots[index].State == RouteSlot.Empty)
            {
                Write(ref _slots[index], key, route);
                Count++;
                return true;
            }

            if (Displacement(index) < i)
            {
                return TryInsertBefore(index, key, route);
            }
        }

        return false;
    }
    /// <summary>The key's route, found as the program finds it.</summary>
    public bool TryGet(CidKey key, out RouteValue route)
    {
        var index = Find(key);
        route = index >= 0 ? _slots[index].Route : default;
        return index >= 0;
    }

    /// <summary>
    /// Removes the key's route and closes the gap: each later entry of the run whose home is at or before the hole moves
    /// back into it, which keeps every entry within its window and no empty slot before it. The removed slot is
    /// overwritten by the entry that moves, never emptied first, and each moved entry is written at its new place before
    /// its old one is reused, so a route that stays is reachable throughout, save for a reader racing the very move.
    /// </summary>
    public bool Remove(CidKey key)
    {
        var found = Find(key);
        if (found < 0)
        {
            return false;
        }

        var hole = (uint)found;
        var next = hole;
        for (var scanned = 1; scanned < SlotCount; scanned++)
        {
            next = (next + 1) & _mask;
            ref var entry = ref _slots[next];
            if (entry.State == RouteSlot.Empty)
            {
                break;
            }

            var home = (uint)HomeOf(entry.Cid);
            if (((next - home) & _mask) >= ((next - hole) & _mask))
            {
                Write(ref _slots[hole], entry.Cid, entry.Route);
                hole = next;
            }
        }

        Clear(ref _slots[hole]);
        Count--;
        return true;
    }

    public void Dispose() => _memory.Dispose();

    /// <summary>
    /// Puts a new route at <paramref name="at"/>, moving the run of routes from there to the next empty slot one slot on,
    /// unless that would take one of them past its window. The last route moves first, and each is written at its new
    /// place before its old one is overwritten, so every route stays reachable for a reader probing forward.
    /// </summary>
    private bool TryInsertBefore(uint at, CidKey key, in RouteValue route)
    {
        var end = at;
        for (var scanned = 0; _slots[end].State == RouteSlot.Used; scanned++)
        {
            if (scanned == SlotCount - 1 || Displacement(end) + 1 >= Probes)
            {
                return false;
            }

            end = (end + 1) & _mask;
        }

        while (end != at)
        {
            var previous = (end - 1) & _mask;
            ref readonly var moving = ref _slots[previous];
            Write(ref _slots[end], moving.Cid, moving.Route);
            end = previous;
        }

        Write(ref _slots[at], key, route);
        Count++;
        return true;
    }

    /// <summary>How far the route in slot <paramref name="index"/> sits from its home slot.</summary>
    private uint Displacement(uint index) => (index - (uint)HomeOf(_slots[index].Cid)) & _mask;

    private int Find(CidKey key)
    {
        var home = (uint)HomeOf(key);
        for (var i = 0u; i < Probes; i++)
        {
            var index = (home + i) & _mask;
            ref readonly var slot = ref _slots[index];
            if (slot.State == RouteSlot.Empty)
            {
                return -1;
            }

            if (Same(slot.Cid, key))
            {
                return (int)index;
            }
        }

        return -1;
    }

    /// <summary>Fills the slot with the route, under the seqlock (<see cref="Publish"/>).</summary>
    private static void Write(ref RouteSlot slot, in CidKey cid, in RouteValue route) => Publish(ref slot, cid, route, RouteSlot.Used);

    /// <summary>Empties the slot, under the seqlock (<see cref="Publish"/>).</summary>
    private static void Clear(ref RouteSlot slot) => Publish(ref slot, default, default, RouteSlot.Empty);

    /// <summary>
    /// The seqlock write: the sequence goes odd, and a full fence makes that visible before any other byte of the slot
    /// changes; then the slot; then the sequence goes even again with release semantics, so every byte above is visible
    /// before it. A reader that saw the same even sequence before and after its copy copied no byte of a write.
    /// </summary>
    private static void Publish(ref RouteSlot slot, in CidKey cid, in RouteValue route, byte state)
    {
        var sequence = slot.Sequence;
        Volatile.Write(ref slot.Sequence, sequence + 1);
        Interlocked.MemoryBarrier();
        slot.Cid = cid;
        slot.Route = route;
        slot.State = state;
        Volatile.Write(ref slot.Sequence, sequence + 2);
    }

    private static bool Same<T>(in T a, in T b)
        where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in a)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in b)));
}
