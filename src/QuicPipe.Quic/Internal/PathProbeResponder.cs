using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Wire;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// One endpoint's side of path probes (<see cref="QuicConnection.ProbePathAsync"/>, <see cref="PathProbe"/>): knows
/// its live connections by probe id, answers the challenges of their peers from the endpoint's socket, hands the
/// responses to our own probes to the connection that sent them, and counts what it answered and dropped. The
/// table is the loop thread's; the counters are read from any thread.
/// </summary>
internal sealed class PathProbeResponder(QuicEndpoint endpoint)
{
    // Loop thread only: live connections by probe id.
    private readonly Dictionary<ulong, QuicConnection> _owners = [];
    private long _answered;
    private long _dropped;

    /// <summary>Path probes of our connections' peers answered since start.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Datagrams shaped like path probes that were dropped unanswered since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Loop thread: <paramref name="connection"/> may be probed, once it has its probe key.</summary>
    public void Register(QuicConnection connection)
    {
        endpoint.AssertOnLoopThread();
        if (connection.ProbeKey is not null)
        {
            _owners.TryAdd(connection.ProbeId, connection); // ids are 64 random bits: a clash leaves one unprobeable
        }
    }

    /// <summary>Loop thread: <paramref name="connection"/> ended; its probe id no longer names it.</summary>
    public void Unregister(QuicConnection connection)
    {
        endpoint.AssertOnLoopThread();
        if (connection.ProbeKey is not null && _owners.TryGetValue(connection.ProbeId, out var owner) && owner == connection)
        {
            _owners.Remove(connection.ProbeId);
        }
    }

    /// <summary>Loop thread: handles a path probe; false if the datagram is not one (it goes on to the unroutable path).</summary>
    public bool TryHandle(ReadOnlySpan<byte> datagram, in PeerAddress source)
    {
        endpoint.AssertOnLoopThread();
        if (!PathProbe.LooksLikeProbe(datagram))
        {
            return false;
        }

        if (!PathProbe.TryRead(datagram, out var kind, out var probeId, out var nonce)
            || !_owners.TryGetValue(probeId, out var connection)
            || connection.ProbeKey is not { } key
            || !PathProbe.HasValidTag(datagram, key))
        {
            Interlocked.Increment(ref _dropped);
            return true;
        }

        if (kind == PathProbeKind.Challenge)
        {
            // To where the challenge came from: the path being probed. As large as the challenge, never larger.
            // Counted before it leaves: the prober may have the answer (and read the count) before this thread
            // would get past the send; a send the kernel refuses takes the count back.
            Span<byte> answer = stackalloc byte[PathProbe.Length];
            PathProbe.Write(answer, PathProbeKind.Response, probeId, nonce, key);
            Interlocked.Increment(ref _answered);
            if (!endpoint.TrySendUnconnected(answer, source))
            {
                Interlocked.Decrement(ref _answered);
            }
        }
        else if (!connection.OnPathProbeResponse(nonce, source))
        {
            Interlocked.Increment(ref _dropped);
        }

        return true;
    }
}
