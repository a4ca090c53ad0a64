using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>Answering and routing path probes (<see cref="QuicConnection.ProbePathAsync"/>, <see cref="PathProbe"/>).</summary>
public sealed partial class QuicEndpoint
{
    // Loop thread only: live connections by probe id.
    private readonly Dictionary<ulong, QuicConnection> _probeOwners = [];
    private long _pathProbesAnswered;
    private long _pathProbesDropped;

    /// <summary>Path probes of our connections' peers answered since start.</summary>
    public long PathProbesAnswered => Interlocked.Read(ref _pathProbesAnswered);

    /// <summary>
    /// Datagrams shaped like path probes that were dropped unanswered since start: unknown probe id (no live
    /// connection of ours), wrong key or version, or an answer to no probe of ours (late, or from another address).
    /// </summary>
    public long PathProbesDropped => Interlocked.Read(ref _pathProbesDropped);

    private void RegisterProbeId(QuicConnection connection)
    {
        if (connection.ProbeKey is not null)
        {
            _probeOwners.TryAdd(connection.ProbeId, connection); // ids are 64 random bits: a clash leaves one unprobeable
        }
    }

    private void UnregisterProbeId(QuicConnection connection)
    {
        if (connection.ProbeKey is not null && _probeOwners.TryGetValue(connection.ProbeId, out var owner) && owner == connection)
        {
            _probeOwners.Remove(connection.ProbeId);
        }
    }

    /// <summary>
    /// The endpoint's own stages, when it receives on a socket of its own or from a hand-over queue: parse headers,
    /// find our connections by CID, answer path probes; then <paramref name="terminal"/>. A server's UDP listener
    /// composes the same list where it can be read (<see cref="QuicListenerBuilderExtensions.RunQuicEndpoint"/>).
    /// </summary>
    private PacketDelegate DefaultPipeline(PacketDelegate terminal) => new PipelineBuilder()
        .UseQuicHeaderParsing(_options.ConnectionIdLength)
        .UseLocalCidLookup(_cids)
        .Use(next => new PathProbeStage(next, this).Invoke)
        .Run(terminal)
        .Build();

    /// <summary>Loop thread: handles a path probe; false if the datagram is not one (it goes on to the unroutable path).</summary>
    internal bool TryHandlePathProbe(ReadOnlySpan<byte> datagram, in PeerAddress source)
    {
        AssertOnLoopThread();
        if (!PathProbe.LooksLikeProbe(datagram))
        {
            return false;
        }

        if (!PathProbe.TryRead(datagram, out var kind, out var probeId, out var nonce)
            || !_probeOwners.TryGetValue(probeId, out var connection)
            || connection.ProbeKey is not { } key
            || !PathProbe.HasValidTag(datagram, key))
        {
            Interlocked.Increment(ref _pathProbesDropped);
            return true;
        }

        if (kind == PathProbeKind.Challenge)
        {
            // To where the challenge came from: the path being probed. As large as the challenge, never larger.
            // Counted before it leaves: the prober may have the answer (and read the count) before this thread
            // would get past the send; a send the kernel refuses takes the count back.
            Span<byte> answer = stackalloc byte[PathProbe.Length];
            PathProbe.Write(answer, PathProbeKind.Response, probeId, nonce, key);
            Interlocked.Increment(ref _pathProbesAnswered);
            if (!TrySendUnconnected(answer, source))
            {
                Interlocked.Decrement(ref _pathProbesAnswered);
            }
        }
        else if (!connection.OnPathProbeResponse(nonce, source))
        {
            Interlocked.Increment(ref _pathProbesDropped);
        }

        return true;
    }
}
