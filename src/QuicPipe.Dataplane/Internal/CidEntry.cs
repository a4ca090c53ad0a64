using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// One preallocated slot of a <see cref="CidTable"/> (88 bytes). Writers (holding the table's write
/// lock) change <see cref="Hash"/>, <see cref="Key"/>, <see cref="Route"/> and <see cref="Next"/> only
/// between <see cref="BeginWrite"/> and <see cref="EndWrite"/>; lock-free readers copy what they need
/// and accept the copy only if <see cref="Sequence"/> was even and unchanged around it (a seqlock).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CidEntry
{
    /// <summary>Seqlock counter: odd while a writer is changing the entry.</summary>
    public int Sequence;

    /// <summary>Next entry of the same bucket chain or of the free list; -1 ends either.</summary>
    public int Next;

    /// <summary>The key's seeded hash: skips chain neighbours without comparing keys, and names the bucket on unlink.</summary>
    public ulong Hash;

    public ConnectionId Key;

    /// <summary>CLOCK reference bit: readers set it (only when clear, to keep the line shared), the hand clears it.</summary>
    public byte Referenced;

    /// <summary>Whether the entry holds a route. Only writers read it, under the lock.</summary>
    public bool InUse;

    public CidRoute Route;

    /// <summary>Makes the entry odd; the barrier keeps every earlier store (an unlink) ahead of the new contents.</summary>
    public void BeginWrite()
    {
        Sequence++;
        Volatile.WriteBarrier();
    }

    /// <summary>Publishes the new contents: release, so they are visible before the even sequence.</summary>
    public void EndWrite() => Volatile.Write(ref Sequence, Sequence + 1);
}
