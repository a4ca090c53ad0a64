namespace QuicPipe.Dataplane;

/// <summary>
/// Packet counters of one receive loop. Each loop writes only its own instance (no contention on the
/// hot path); readers sum the instances with <see cref="AddTo"/>. 64-bit stores are atomic on the
/// platforms we run on, so a concurrent reader sees each counter whole, if slightly stale.
/// </summary>
public sealed class DataplaneCounters
{
    private readonly long[] _dropped = new long[DropReasons.Count];

    /// <summary>Datagrams received (after GRO splitting: one per QUIC datagram).</summary>
    public long Received;

    /// <summary>Bytes received.</summary>
    public long ReceivedBytes;

    /// <summary>Datagrams handed to the kernel for sending and accepted by it.</summary>
    public long Forwarded;

    /// <summary>Bytes forwarded.</summary>
    public long ForwardedBytes;

    /// <summary>Datagrams delivered to a local handler.</summary>
    public long Local;

    /// <summary>Batches run through the pipeline.</summary>
    public long Batches;

    /// <summary>sendmsg entries that carried more than one datagram (UDP GSO).</summary>
    public long GsoSends;

    /// <summary>Datagrams sent inside GSO sends.</summary>
    public long GsoSegments;

    /// <summary>Received buffers that held several packets: coalesced by UDP GRO, or a TUN super-packet.</summary>
    public long GroBuffers;

    /// <summary>Datagrams dropped, indexed by <see cref="DropReason"/>.</summary>
    public ReadOnlySpan<long> Dropped => _dropped;

    public long DroppedTotal
    {
        get
        {
            long sum = 0;
            foreach (var d in _dropped)
            {
                sum += d;
            }

            return sum;
        }
    }

    public void CountDrop(DropReason reason) => _dropped[(int)reason]++;

    public void CountDrops(DropReason reason, long count) => _dropped[(int)reason] += count;

    /// <summary>Adds this loop's counters into <paramref name="total"/>.</summary>
    public void AddTo(DataplaneCounters total)
    {
        ArgumentNullException.ThrowIfNull(total);
        total.Received += Volatile.Read(ref Received);
        total.ReceivedBytes += Volatile.Read(ref ReceivedBytes);
        total.Forwarded += Volatile.Read(ref Forwarded);
        total.ForwardedBytes += Volatile.Read(ref ForwardedBytes);
        total.Local += Volatile.Read(ref Local);
        total.Batches += Volatile.Read(ref Batches);
        total.GsoSends += Volatile.Read(ref GsoSends);
        total.GsoSegments += Volatile.Read(ref GsoSegments);
        total.GroBuffers += Volatile.Read(ref GroBuffers);
        for (var i = 0; i < _dropped.Length; i++)
        {
            total._dropped[i] += Volatile.Read(ref _dropped[i]);
        }
    }

    /// <summary>Sets every counter to zero (for reuse as a sum).</summary>
    public void Reset()
    {
        Received = ReceivedBytes = Forwarded = ForwardedBytes = Local = Batches = GsoSends = GsoSegments = GroBuffers = 0;
        Array.Clear(_dropped);
    }
}
