using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Quic.Internal;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic;

/// <summary>Probing a path without moving to it (see <see cref="ProbePathAsync"/> and <see cref="PathProbe"/>).</summary>
public sealed partial class QuicConnection
{
    /// <summary>Waits after each try of a probe: 5 tries over 3.1 s.</summary>
    private static readonly TimeSpan[] ProbeGaps =
    [
        TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400),
        TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(1600),
    ];

    /// <summary>The TLS exporter label of the path probes' id and key (<see cref="DerivePathProbeKey"/>).</summary>
    private const string PathProbeExporterLabel = "EXPORTER-quicpipe-path-probe";

    /// <summary>The exporter output: the probe id (8 bytes) then the key.</summary>
    private const int PathProbeSecretLength = 8 + PathProbe.KeyLength;

    /// <summary>Tries of all this connection's probes awaiting an answer; each try has its own nonce.</summary>
    private const int MaxPendingProbeTries = 256;

    private readonly ConcurrentDictionary<ulong, (PendingPathProbe Probe, long SentAt)> _pendingProbes = new();

    // Set once, on the loop thread when the handshake completes; read from any thread after.
    private volatile byte[]? _probeKey;

    /// <summary>Names this connection in path probes (same value at both ends); valid once <see cref="ProbeKey"/> is set.</summary>
    internal ulong ProbeId { get; private set; }

    /// <summary>Authenticates this connection's path probes; null before the handshake completed.</summary>
    internal byte[]? ProbeKey => _probeKey;

    /// <summary>
    /// Checks that the peer answers at <paramref name="remote"/> without moving the connection there: sends
    /// authenticated probes from this endpoint's socket (up to 5 tries over 3.1 s) and returns the round-trip time
    /// of the first one answered. The connection's path, streams and congestion state are untouched, and no
    /// <see cref="PathChanged"/> is raised. Either side may probe.
    /// </summary>
    /// <remarks>
    /// ngtcp2 0.12 sends PATH_CHALLENGE only as part of a migration, so the probe is QuicPipe's own datagram (not
    /// QUIC), answered by the peer's <see cref="QuicEndpoint"/> itself: the peer must be a QuicPipe endpoint. The probe
    /// key comes from the TLS exporter, so nobody else can make or answer one; probes with a wrong key are dropped
    /// and counted (<see cref="QuicEndpoint.PathProbesDropped"/>). An answer counts only if it comes from
    /// <paramref name="remote"/> itself.
    /// </remarks>
    /// <exception cref="QuicConnectionException">No answer after the last try, or the connection ended.</exception>
    /// <exception cref="InvalidOperationException">Too many probes in flight on this connection.</exception>
    /// <exception cref="ArgumentException">The address family differs from the endpoint's socket.</exception>
    public async Task<TimeSpan> ProbePathAsync(IPEndPoint remote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var destination = PeerAddress.FromEndPoint(remote);
        if (remote.AddressFamily != _endpoint.LocalEndPoint.AddressFamily)
        {
            throw new ArgumentException($"Cannot probe {remote}: the endpoint's socket is {_endpoint.LocalEndPoint}, another address family.", nameof(remote));
        }

        // A connection handed to the application has completed its handshake, so the key is there unless it ended.
        var key = _probeKey ?? throw new QuicConnectionException("The connection has no path-probe key: its handshake did not complete.");
        var probe = new PendingPathProbe(destination);
        var datagram = new byte[PathProbe.Length];
        var nonces = new List<ulong>(ProbeGaps.Length);
        var waited = TimeSpan.Zero;
        try
        {
            foreach (var gap in ProbeGaps)
            {
                if (_closed.Task.IsCompleted)
                {
                    break;
                }

                if (_pendingProbes.Count >= MaxPendingProbeTries)
                {
                    throw new InvalidOperationException($"Too many path probes in flight on this connection ({MaxPendingProbeTries} tries); wait for some to end.");
                }

                var nonce = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
                nonces.Add(nonce);
                _pendingProbes[nonce] = (probe, Stopwatch.GetTimestamp());
                PathProbe.Write(datagram, PathProbeKind.Challenge, ProbeId, nonce, key);
                _endpoint.TrySendUnconnected(datagram, destination); // a refused send is a lost try; the next one follows

                await Task.WhenAny(probe.Answered, _closed.Task, Task.Delay(gap, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (probe.Answered.IsCompleted)
                {
                    return await probe.Answered.ConfigureAwait(false);
                }

                waited += gap;
            }
        }
        finally
        {
            foreach (var nonce in nonces)
            {
                _pendingProbes.TryRemove(nonce, out _);
            }
        }

        if (_closed.Task.IsCompleted)
        {
            throw new QuicConnectionException($"The connection ended while probing {remote}.");
        }

        throw new QuicConnectionException($"No answer from {remote} to {nonces.Count} path probes over {waited.TotalSeconds:0.#} s; the connection stays on {RemoteEndPoint}.");
    }

    /// <summary>Loop thread, at the handshake's end: the probe id and key from the TLS exporter.</summary>
    private unsafe void DerivePathProbeKey()
    {
        Span<byte> secret = stackalloc byte[PathProbeSecretLength];
        fixed (byte* s = secret)
        {
            if (QuicShim.ConnExportKey(Handle, PathProbeExporterLabel, s, (nuint)secret.Length) != 0)
            {
                return; // no key: this connection cannot be probed, and ProbePathAsync says so
            }
        }

        ProbeId = BinaryPrimitives.ReadUInt64BigEndian(secret);
        _probeKey = secret[8..].ToArray();
        CryptographicOperations.ZeroMemory(secret);
    }

    /// <summary>Loop thread: an authenticated answer arrived. False if no try of ours has that nonce, or it came from elsewhere.</summary>
    internal bool OnPathProbeResponse(ulong nonce, in PeerAddress source)
    {
        _endpoint.AssertOnLoopThread();
        if (!_pendingProbes.TryGetValue(nonce, out var pending) || pending.Probe.Destination != source)
        {
            return false;
        }

        pending.Probe.Answer(Stopwatch.GetElapsedTime(pending.SentAt));
        return true;
    }
}
