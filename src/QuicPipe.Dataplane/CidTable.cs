using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using QuicPipe.Dataplane.Internal;

namespace QuicPipe.Dataplane;

/// <summary>
/// Connection ID -> <see cref="CidRoute"/> map of fixed capacity, read lock-free by many receive loops
/// while one control thread at a time changes it. Nothing allocates after construction.
/// </summary>
/// <remarks>
/// Shape: a preallocated entry array, chained by index from a power-of-two bucket array (at least one
/// bucket per entry). Chaining rather than open addressing because removal then never moves other
/// entries (a moved entry is one a concurrent reader can miss) and needs no tombstones. Keys are hashed
/// with a secret random seed so remote peers cannot aim CIDs at one chain; a chain is still capped at
/// <see cref="MaxChainLength"/> (the cap evicts within the chain), so even a leaked seed buys an
/// attacker bounded lookups. Readers are lock-free: each entry is a seqlock, each bucket has a version
/// that changes when the chain is relinked, and a reader that saw either change retries a few times.
/// When full, an insert takes an expired entry if one is close to the CLOCK hand, else CLOCK's victim.
/// </remarks>
public sealed class CidTable
{
    /// <summary>The most entries one chain may hold (random hashing makes even 10 vanishingly rare).</summary>
    internal const int MaxChainLength = 16;

    /// <summary>Largest supported capacity: about 6 GB of entries.</summary>
    internal const int MaxCapacity = 1 << 26;

    /// <summary>How often a reader retries after racing a writer before it reports a miss.</summary>
    private const int MaxReadAttempts = 16;

    /// <summary>How far ahead of the CLOCK hand an insert looks for an expired entry to reuse.</summary>
    private const int ExpiredLookahead = 32;

    private const int End = -1;

    /// <summary>Route a freed entry holds: expired at any time, so a reader that strays onto it sees a miss.</summary>
    private static readonly CidRoute s_freed = new(default, 0, long.MinValue);

    private readonly CidEntry[] _entries;
    private readonly CidBucket[] _buckets;
    private readonly int _bucketMask;
    private readonly ulong _seed;
    private readonly TimeProvider _time;
    private readonly long _ticksPerSecond;

    /// <summary>Serialises writers; readers never take it.</summary>
    private readonly Lock _writeLock = new();

    /// <summary>First entry of the free list (chained through Next), or -1 when the table is full. Under the lock.</summary>
    private int _freeHead;

    /// <summary>CLOCK hand: the next entry the victim search looks at. Under the lock.</summary>
    private int _hand;

    /// <summary>Entries in use; written under the lock, read anywhere.</summary>
    private int _count;

    /// <summary>Live entries pushed out to make room; written under the lock, read anywhere.</summary>
    private long _evictions;

    public CidTable(int capacity, TimeProvider? timeProvider = null)
        : this(capacity, timeProvider, BucketCountFor(capacity), RandomSeed())
    {
    }

    /// <summary>For tests: a chosen bucket count (power of two) and seed, to force collisions.</summary>
    internal CidTable(int capacity, TimeProvider? timeProvider, int bucketCount, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, MaxCapacity);
        if (bucketCount < 1 || !BitOperations.IsPow2(bucketCount))
        {
            throw new ArgumentOutOfRangeException(nameof(bucketCount), bucketCount, "The bucket count must be a power of two.");
        }

        _time = timeProvider ?? TimeProvider.System;
        _ticksPerSecond = _time.TimestampFrequency;
        _seed = seed;
        _entries = new CidEntry[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _entries[i].Next = i + 1 < capacity ? i + 1 : End;
        }

        _buckets = new CidBucket[bucketCount];
        for (var i = 0; i < bucketCount; i++)
        {
            _buckets[i].Head = End;
        }

        _bucketMask = bucketCount - 1;
        _freeHead = 0;
    }

    private enum Probe
    {
        Hit,
        Miss,
        Retry,
    }

    public int Capacity => _entries.Length;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Live entries pushed out by CLOCK (or by a chain's cap) because there was no room; reused expired entries are not counted.</summary>
    public long Evictions => Volatile.Read(ref _evictions);

    /// <summary>Monotonic milliseconds from the time provider's timestamp: the clock routes expire on.</summary>
    public long NowMs
    {
        get
        {
            // Split the conversion so that timestamp * 1000 cannot overflow on a long uptime.
            var ticks = _time.GetTimestamp();
            return (ticks / _ticksPerSecond * 1000) + (ticks % _ticksPerSecond * 1000 / _ticksPerSecond);
        }
    }

    /// <summary>
    /// Looks up <paramref name="cid"/> without locking. An expired route is a miss. A hit marks the entry
    /// recently used for CLOCK. <paramref name="nowMs"/> is the caller's clock reading (once per batch).
    /// </summary>
    public bool TryGet(in ConnectionId cid, long nowMs, out CidRoute route)
    {
        var hash = cid.GetHash(_seed);
        ref var bucket = ref _buckets[(int)hash & _bucketMask];
        for (var attempt = 0; attempt < MaxReadAttempts; attempt++)
        {
            var probe = ProbeChain(ref bucket, hash, cid, nowMs, out route);
            if (probe != Probe.Retry)
            {
                return probe == Probe.Hit;
            }

            Thread.SpinWait(attempt + 1);
        }

        // A writer kept changing this chain; a rare false miss is cheaper than an unbounded spin.
        route = default;
        return false;
    }

    /// <summary>Looks up <paramref name="cid"/> at <see cref="NowMs"/>.</summary>
    public bool TryGet(in ConnectionId cid, out CidRoute route) => TryGet(cid, NowMs, out route);

    /// <summary>
    /// Inserts or replaces the route of <paramref name="cid"/>. When the table is full it reuses an expired
    /// entry near the CLOCK hand, else evicts CLOCK's victim (counted in <see cref="Evictions"/>).
    /// </summary>
    public void Set(in ConnectionId cid, in CidRoute route)
    {
        var hash = cid.GetHash(_seed);
        lock (_writeLock)
        {
            SetLocked(hash, cid, route);
        }
    }

    /// <summary>
    /// Inserts or replaces the route of <paramref name="cid"/> as <see cref="Set"/> does, but never evicts: returns
    /// false and changes nothing when a new entry would need room the table lacks (every entry in use, or the
    /// chain at its cap). For owners that size the table to what they register and must hear of an overflow
    /// instead of silently losing another route.
    /// </summary>
    public bool TrySetWithoutEviction(in ConnectionId cid, in CidRoute route)
    {
        var hash = cid.GetHash(_seed);
        lock (_writeLock)
        {
            var existing = FindLocked((int)hash & _bucketMask, hash, cid, out var chainLength);
            if (existing == End && (_freeHead == End || chainLength >= MaxChainLength))
            {
                return false;
            }

            SetLocked(hash, cid, route);
            return true;
        }
    }

    /// <summary>
    /// Inserts or replaces the route of <paramref name="cid"/> unless a live route of another owner holds it:
    /// a stored route is replaced only if it is expired or its owner equals <paramref name="route"/>'s owner
    /// under <paramref name="ownerMask"/> (bits outside the mask are flags, not identity). Returns false and
    /// changes nothing otherwise. Check and write are one step, so a concurrent writer cannot slip between.
    /// </summary>
    public bool TrySet(in ConnectionId cid, in CidRoute route, ulong ownerMask)
    {
        var hash = cid.GetHash(_seed);
        lock (_writeLock)
        {
            var existing = FindLocked((int)hash & _bucketMask, hash, cid, out _);
            if (existing != End)
            {
                var stored = _entries[existing].Route;
                if (!stored.IsExpiredAt(NowMs) && (stored.OwnerId & ownerMask) != (route.OwnerId & ownerMask))
                {
                    return false;
                }
            }

            SetLocked(hash, cid, route);
            return true;
        }
    }

    /// <summary>
    /// Removes the route of <paramref name="cid"/> only if its owner (under <paramref name="ownerMask"/>) is
    /// <paramref name="ownerId"/>, expired or not: a registry never removes a route someone else took over.
    /// </summary>
    public bool RemoveIfOwnedBy(in ConnectionId cid, ulong ownerId, ulong ownerMask)
    {
        var hash = cid.GetHash(_seed);
        lock (_writeLock)
        {
            var index = FindLocked((int)hash & _bucketMask, hash, cid, out _);
            if (index == End || (_entries[index].Route.OwnerId & ownerMask) != (ownerId & ownerMask))
            {
                return false;
            }

            UnlinkLocked(index);
            FreeLocked(index);
            return true;
        }
    }

    /// <summary>Removes the route of <paramref name="cid"/>; false if there was none.</summary>
    public bool Remove(in ConnectionId cid)
    {
        var hash = cid.GetHash(_seed);
        lock (_writeLock)
        {
            var index = FindLocked((int)hash & _bucketMask, hash, cid, out _);
            if (index == End)
            {
                return false;
            }

            UnlinkLocked(index);
            FreeLocked(index);
            return true;
        }
    }

    /// <summary>Removes every route registered by <paramref name="ownerId"/> (0: the static routes); returns how many. Scans the whole table.</summary>
    public int RemoveOwner(ulong ownerId)
    {
        lock (_writeLock)
        {
            var removed = 0;
            for (var i = 0; i < _entries.Length; i++)
            {
                if (_entries[i].InUse && _entries[i].Route.OwnerId == ownerId)
                {
                    UnlinkLocked(i);
                    FreeLocked(i);
                    removed++;
                }
            }

            return removed;
        }
    }

    /// <summary>Removes every route expired at <paramref name="nowMs"/>; returns how many. Scans the whole table.</summary>
    public int RemoveExpired(long nowMs)
    {
        lock (_writeLock)
        {
            var removed = 0;
            for (var i = 0; i < _entries.Length; i++)
            {
                if (_entries[i].InUse && _entries[i].Route.IsExpiredAt(nowMs))
                {
                    UnlinkLocked(i);
                    FreeLocked(i);
                    removed++;
                }
            }

            return removed;
        }
    }

    /// <summary>
    /// Copies the stored entries (expired ones included: the route says when it expires) into
    /// <paramref name="destination"/>, as many as fit, and returns how many it wrote. A consistent
    /// snapshot: writers wait meanwhile. For diagnostics and reloads, not the packet path.
    /// </summary>
    public int CopyTo(Span<(ConnectionId Cid, CidRoute Route)> destination)
    {
        lock (_writeLock)
        {
            var written = 0;
            for (var i = 0; i < _entries.Length && written < destination.Length; i++)
            {
                if (_entries[i].InUse)
                {
                    destination[written++] = (_entries[i].Key, _entries[i].Route);
                }
            }

            return written;
        }
    }

    /// <summary>One lock-free walk of a chain. Retry means a writer interfered and the answer is unknown.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Probe ProbeChain(ref CidBucket bucket, ulong hash, in ConnectionId cid, long nowMs, out CidRoute route)
    {
        var version = Volatile.Read(ref bucket.Version);
        var index = Volatile.Read(ref bucket.Head);

        // A chain never exceeds the cap; a longer walk means a recycled entry led us astray.
        for (var steps = 0; index != End && steps < MaxChainLength; steps++)
        {
            ref var entry = ref _entries[index];
            var sequence = Volatile.Read(ref entry.Sequence);
            if (entry.Hash == hash)
            {
                var key = entry.Key;
                route = entry.Route;

                // The copies must be complete before the sequence is read again.
                Volatile.ReadBarrier();
                if ((sequence & 1) != 0 || entry.Sequence != sequence)
                {
                    return Probe.Retry;
                }

                if (key.Equals(cid))
                {
                    if (route.IsExpiredAt(nowMs))
                    {
                        // Possibly a freed entry reached by a stale link: let the version check decide.
                        break;
                    }

                    if (entry.Referenced == 0)
                    {
                        entry.Referenced = 1;
                    }

                    return Probe.Hit;
                }
            }

            index = entry.Next;
        }

        route = default;
        Volatile.ReadBarrier();
        return (version & 1) == 0 && Volatile.Read(ref bucket.Version) == version ? Probe.Miss : Probe.Retry;
    }

    private void SetLocked(ulong hash, in ConnectionId cid, in CidRoute route)
    {
        var bucketIndex = (int)hash & _bucketMask;
        var existing = FindLocked(bucketIndex, hash, cid, out var chainLength);
        if (existing != End)
        {
            ref var entry = ref _entries[existing];
            entry.BeginWrite();
            entry.Route = route;
            entry.EndWrite();
            entry.Referenced = 1;
            return;
        }

        var nowMs = NowMs;
        var index = chainLength >= MaxChainLength ? EvictFromChainLocked(bucketIndex, nowMs) : AllocateLocked(nowMs);
        Insert(index, bucketIndex, hash, cid, route);
    }

    /// <summary>The entry holding <paramref name="cid"/> in a bucket, or -1; also the chain's length.</summary>
    private int FindLocked(int bucketIndex, ulong hash, in ConnectionId cid, out int chainLength)
    {
        chainLength = 0;
        var found = End;
        for (var i = _buckets[bucketIndex].Head; i != End; i = _entries[i].Next)
        {
            chainLength++;
            if (_entries[i].Hash == hash && _entries[i].Key.Equals(cid))
            {
                found = i;
            }
        }

        return found;
    }

    /// <summary>A free entry, evicting one if the table is full.</summary>
    private int AllocateLocked(long nowMs)
    {
        if (_freeHead != End)
        {
            var index = _freeHead;
            _freeHead = _entries[index].Next;
            return index;
        }

        var victim = FindExpiredNearHandLocked(nowMs);
        if (victim == End)
        {
            victim = AdvanceClockLocked();
            _evictions++;
        }

        UnlinkLocked(victim);
        return victim;
    }

    /// <summary>An expired entry among the next few the hand will reach, or -1. Bounded so an insert stays O(1).</summary>
    private int FindExpiredNearHandLocked(long nowMs)
    {
        var i = _hand;
        for (var k = Math.Min(ExpiredLookahead, _entries.Length); k > 0; k--)
        {
            if (_entries[i].InUse && _entries[i].Route.IsExpiredAt(nowMs))
            {
                return i;
            }

            i = i + 1 == _entries.Length ? 0 : i + 1;
        }

        return End;
    }

    /// <summary>
    /// CLOCK (second chance): the hand clears the reference bit of each entry it passes and stops at the
    /// first entry whose bit was already clear, i.e. not read since the hand last came by. Only called when
    /// every entry is in use. Readers may set bits again behind the hand, so after two laps it takes
    /// whatever it points at rather than let a hot table stall the writer.
    /// </summary>
    private int AdvanceClockLocked()
    {
        for (var steps = 0; ; steps++)
        {
            var i = _hand;
            _hand = i + 1 == _entries.Length ? 0 : i + 1;
            ref var entry = ref _entries[i];
            if (entry.Referenced == 0 || steps >= 2 * _entries.Length)
            {
                return i;
            }

            entry.Referenced = 0;
        }
    }

    /// <summary>
    /// Makes room in a chain that reached the cap (only likely if the seed leaked): takes an expired entry,
    /// else the first not recently read, else the last.
    /// </summary>
    private int EvictFromChainLocked(int bucketIndex, long nowMs)
    {
        int victim = End, unreferenced = End, last = End;
        for (var i = _buckets[bucketIndex].Head; i != End; i = _entries[i].Next)
        {
            if (_entries[i].Route.IsExpiredAt(nowMs))
            {
                victim = i;
                break;
            }

            if (unreferenced == End && _entries[i].Referenced == 0)
            {
                unreferenced = i;
            }

            last = i;
        }

        if (victim == End)
        {
            victim = unreferenced != End ? unreferenced : last;
            _evictions++;
        }

        UnlinkLocked(victim);
        return victim;
    }

    /// <summary>Fills a detached entry and publishes it at the head of its chain.</summary>
    private void Insert(int index, int bucketIndex, ulong hash, in ConnectionId cid, in CidRoute route)
    {
        ref var bucket = ref _buckets[bucketIndex];
        ref var entry = ref _entries[index];
        entry.BeginWrite();
        entry.Hash = hash;
        entry.Key = cid;
        entry.Route = route;
        entry.Next = bucket.Head;
        entry.EndWrite();

        // New entries start referenced so that a fresh registration survives until the hand passes it once.
        entry.Referenced = 1;
        entry.InUse = true;

        // Release: a reader that sees the new head sees the filled entry.
        Volatile.Write(ref bucket.Head, index);
        _count++;
    }

    /// <summary>Takes an entry out of its chain; the entry keeps its contents until reused or freed.</summary>
    private void UnlinkLocked(int index)
    {
        ref var entry = ref _entries[index];
        ref var bucket = ref _buckets[(int)entry.Hash & _bucketMask];
        bucket.BeginChange();
        if (bucket.Head == index)
        {
            bucket.Head = entry.Next;
        }
        else
        {
            var previous = bucket.Head;
            while (_entries[previous].Next != index)
            {
                previous = _entries[previous].Next;
            }

            _entries[previous].Next = entry.Next;
        }

        bucket.EndChange();
        entry.InUse = false;
        _count--;
    }

    /// <summary>Returns an unlinked entry to the free list, voiding its route for readers still on it.</summary>
    private void FreeLocked(int index)
    {
        ref var entry = ref _entries[index];
        entry.BeginWrite();
        entry.Route = s_freed;
        entry.Next = _freeHead;
        entry.EndWrite();
        _freeHead = index;
    }

    private static int BucketCountFor(int capacity) =>
        (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(capacity, 1, MaxCapacity));

    private static ulong RandomSeed()
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        RandomNumberGenerator.Fill(bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }
}
