namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Head of one hash chain of a <see cref="CidTable"/>. Head and version share a cache line, so a
/// lookup that misses costs one line here plus one per chain entry.
/// </summary>
internal struct CidBucket
{
    /// <summary>Index of the first entry of the chain, or -1 when the chain is empty.</summary>
    public int Head;

    /// <summary>
    /// Odd while the chain is being relinked (an entry unlinked). A reader that misses while this
    /// changed may have been walked off the chain by a recycled entry, so it retries instead of
    /// reporting a false miss. Inserting at the head needs no bump: it never strands a reader.
    /// </summary>
    public int Version;

    /// <summary>Marks the chain as changing; the barrier keeps the odd version ahead of the relinking stores.</summary>
    public void BeginChange()
    {
        Version++;
        Volatile.WriteBarrier();
    }

    /// <summary>Publishes the relinked chain: release, so the new links are visible before the even version.</summary>
    public void EndChange() => Volatile.Write(ref Version, Version + 1);
}
