using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// One connection's path probes (<see cref="QuicConnection.ProbePathAsync"/>, <see cref="PathProbe"/>): the probe
/// id and key the TLS exporter gives it at the handshake's end, and the tries in flight by nonce, which the
/// endpoint's <see cref="PathProbeResponder"/> answers. Probes start on any thread; answers arrive on the loop thread.
/// </summary>
internal sealed class PathProber(QuicConnection connection, QuicEndpoint endpoint)
{
    /// <summary>Waits after each try of a probe: 5 tries over 3.1 s.</summary>
    private static readonly TimeSpan[] ProbeGaps =
    [
        TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400),
        TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(1600),
    ];

    /// <summary>The TLS exporter label of the path probes' id and key (<see cref="DeriveKey"/>).</summary>
    private const string PathProbeExporterLabel = "EXPORTER-quicpipe-path-probe";

    /// <summary>The exporter output: the probe id (8 bytes) then the key.</summary>
    private const int PathProbeSecretLength = 8 + PathProbe.KeyLength;

    /// <summary>Tries of all this connection's probes awaiting an answer; each try has its own nonce.</summary>
    private const int MaxPendingProbeTries = 256;

    private readonly ConcurrentDictionary<ulong, (PendingPathProbe Probe, long SentAt)> _pendingProbes = new();

    // Set once, on the loop thread when the handshake completes; read from any thread after.
    private volatile byte[]? _probeKey;

    /// <summary>Names this connection in path probes (same value at both ends); valid once <see cref="ProbeKey"/> is set.</summary>
    public ulong ProbeId { get; private set; }

    /// <summary>Authenticates this connection's path probes; null before the handshake completed.</summary>
    public byte[]? ProbeKey => _probeKey;

    /// <summary>What <see cref="QuicConnection.ProbePathAsync"/> does; see there.</summary>
    public async Task<TimeSpan> ProbeAsync(IPEndPoint remote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var destination = PeerAddress.FromEndPoint(remote);
        if (remote.AddressFamily != endpoint.LocalEndPoint.AddressFamily)
        {
            throw new ArgumentException($"Cannot probe {remote}: the endpoint's socket is {endpoint.LocalEndPoint}, another address family.", nameof(remote));
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
                if (connection.Closed.IsCompleted)
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
                endpoint.TrySendUnconnected(datagram, destination); // a refused send is a lost try; the next one follows

                await Task.WhenAny(probe.Answered, connection.Closed, Task.Delay(gap, cancellationToken)).ConfigureAwait(false);
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

        if (connection.Closed.IsCompleted)
        {
            throw new QuicConnectionException($"The connection ended while probing {remote}.");
        }

        throw new QuicConnectionException($"No answer from {remote} to {nonces.Count} path probes over {waited.TotalSeconds:0.#} s; the connection stays on {connection.RemoteEndPoint}.");
    }

    /// <summary>Loop thread, at the handshake's end: the probe id and key from the TLS exporter.</summary>
    public unsafe void DeriveKey()
    {
        Span<byte> secret = stackalloc byte[PathProbeSecretLength];
        fixed (byte* s = secret)
        {
            if (QuicShim.ConnExportKey(connection.Handle, PathProbeExporterLabel, s, (nuint)secret.Length) != 0)
            {
                return; // no key: this connection cannot be probed, and ProbePathAsync says so
            }
        }

        ProbeId = BinaryPrimitives.ReadUInt64BigEndian(secret);
        _probeKey = secret[8..].ToArray();
        CryptographicOperations.ZeroMemory(secret);
    }

    /// <summary>Loop thread: an authenticated answer arrived. False if no try of ours has that nonce, or it came from elsewhere.</summary>
    public bool OnResponse(ulong nonce, in PeerAddress source)
    {
        endpoint.AssertOnLoopThread();
        if (!_pendingProbes.TryGetValue(nonce, out var pending) || pending.Probe.Destination != source)
        {
            return false;
        }

        pending.Probe.Answer(Stopwatch.GetElapsedTime(pending.SentAt));
        return true;
    }
}
