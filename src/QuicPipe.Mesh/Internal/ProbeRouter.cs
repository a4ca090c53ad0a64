using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Protocol.Mesh;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// The probes (docs/circuits.md, "Probes"): sends this node's own, forwards the neighbours' (each at most once,
/// within the rate and state bounds), answers those for this node, and carries the answers back, opening each
/// circuit's hop here at the first FOUND.
/// </summary>
/// <remarks>The node's lock (<paramref name="gate"/>) guards the probe states.</remarks>
internal sealed partial class ProbeRouter(
    NodeId self,
    MeshNodeOptions options,
    Lock gate,
    LinkKeeper links,
    CircuitSwitch circuits,
    CircuitCarrier carrier,
    ConcurrentDictionary<ConnectionId, (NodeId Origin, long ExpiresTicks)> pins,
    ILogger logger)
{
    // Under gate: the probes seen and not expired, by id.
    private readonly Dictionary<ulong, ProbeState> _probes = [];

    private long _probesForwarded;
    private long _probeCopiesSent;
    private long _probesDuplicate;
    private long _probesDeadEnded;
    private long _probesRefused;

    /// <summary>Under the gate: the probe states held now.</summary>
    public int States => _probes.Count;

    public long Forwarded => Interlocked.Read(ref _probesForwarded);

    public long CopiesSent => Interlocked.Read(ref _probeCopiesSent);

    public long Duplicates => Interlocked.Read(ref _probesDuplicate);

    public long DeadEnded => Interlocked.Read(ref _probesDeadEnded);

    public long Refused => Interlocked.Read(ref _probesRefused);

    /// <summary>Under the gate: the link went down; the branches of probes on it end.</summary>
    public void EndBranches(NeighborLink link)
    {
        foreach (var (id, state) in _probes.ToList())
        {
            if (state.Outstanding.Remove(link))
            {
                BranchEnded(id, state);
            }
        }
    }

    /// <summary>A probe of our own for <paramref name="target"/>, with a fresh id.</summary>
    public Probe NewProbe(NodeId target)
    {
        var probe = new Probe { Target = ByteString.CopyFrom(target.Bytes), ProbeId = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8)), HopLimit = (uint)options.HopLimit };
        probe.Path.Add(ByteString.CopyFrom(self.Bytes));
        return probe;
    }

    /// <summary>Sends our own probe on every link that carries cells; <see cref="MeshException"/> when it cannot go anywhere.</summary>
    public void SendProbe(NodeId target, Probe probe, ProbeState state)
    {
        lock (gate)
        {
            if (!TryMakeRoomForProbe())
            {
                throw new MeshException($"{target} unreachable: this node has {_probes.Count} probes under way, its limit.");
            }

            foreach (var link in links.Up.Where(l => l.CarriesCells))
            {
                if (link.Send(new MeshMessage { Probe = probe }))
                {
                    state.Outstanding.Add(link);
                }
            }

            if (state.Outstanding.Count == 0)
            {
                throw new MeshException($"{target} unreachable: no neighbour link is up.");
            }

            _probes[probe.ProbeId] = state;
            Interlocked.Add(ref _probeCopiesSent, state.Outstanding.Count);
        }
    }

    /// <summary>Our own probe's first FOUND answer: the circuit's first hop; <see cref="MeshException"/> (unreachable) otherwise.</summary>
    public async Task<CircuitHop> AwaitFoundAsync(NodeId target, ProbeState state, long deadline, TimeSpan limit, CancellationToken cancellationToken)
    {
        try
        {
            return await state.Found!.Task.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(1, deadline - Environment.TickCount64)), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            lock (gate)
            {
                // A FOUND answer after this is released; one that came just now is torn down.
                state.Answered = true;
            }

            if (state.Found!.Task.IsCompletedSuccessfully)
            {
                circuits.CloseHop(state.Found.Task.Result, null, "the dial gave up");
            }

            cancellationToken.ThrowIfCancellationRequested();
            throw new MeshException($"{target} unreachable: no circuit answer within {limit.TotalSeconds:0.#} s.");
        }
        catch (MeshException e)
        {
            throw new MeshException($"{target} {e.Message}");
        }
    }

    /// <summary>A probe under _gate; <paramref name="resumed"/>: a circuit of ours it re-routed, and the hop it replaced.</summary>
    public void OnProbe(NeighborLink link, Probe probe, out (LocalCircuit Circuit, CircuitHop? Old)? resumed)
    {
        resumed = null;
        lock (gate)
        {
            if (!link.ProbeBudget.TryTake())
            {
                Interlocked.Increment(ref _probesRefused);
                DeadEnd(link, probe.ProbeId);
                return;
            }

            if (probe.Target.Length != NodeId.Size || probe.Path.Count == 0 || probe.Path.Any(p => p.Length != NodeId.Size) || probe.Path.Any(p => p.Span.SequenceEqual(self.Bytes)))
            {
                Interlocked.Increment(ref _probesDeadEnded);
                DeadEnd(link, probe.ProbeId);
                return;
            }

            if (_probes.ContainsKey(probe.ProbeId))
            {
                Interlocked.Increment(ref _probesDuplicate);
                DeadEnd(link, probe.ProbeId);
                return;
            }

            if (!TryMakeRoomForProbe())
            {
                Interlocked.Increment(ref _probesRefused);
                DeadEnd(link, probe.ProbeId);
                return;
            }

            var state = new ProbeState(link, Environment.TickCount64 + (long)options.ProbeTimeout.TotalMilliseconds);
            _probes[probe.ProbeId] = state;
            var path = probe.Path.Select(p => new NodeId(p.Span)).Append(self).ToList();
            if (new NodeId(probe.Target.Span) == self)
            {
                if (probe.Resumes.IsEmpty)
                {
                    AnswerAsTarget(link, probe, state, path);
                }
                else
                {
                    resumed = AnswerResumeAsTarget(link, probe, state, path);
                }

                return;
            }

            if (path.Count - 1 > Math.Min(probe.HopLimit, (uint)options.HopLimit))
            {
                Interlocked.Increment(ref _probesDeadEnded);
                DeadEnd(link, probe.ProbeId);
                return;
            }

            var onward = probe.Clone();
            onward.Path.Add(ByteString.CopyFrom(self.Bytes));
            foreach (var next in links.Up)
            {
                if (next != link && next.CarriesCells && !path.Contains(next.Neighbor) && next.Send(new MeshMessage { Probe = onward }))
                {
                    state.Outstanding.Add(next);
                }
            }

            if (state.Outstanding.Count == 0)
            {
                Interlocked.Increment(ref _probesDeadEnded);
                DeadEnd(link, probe.ProbeId);
                return;
            }

            Interlocked.Increment(ref _probesForwarded);
            Interlocked.Add(ref _probeCopiesSent, state.Outstanding.Count);
        }
    }

    /// <summary>Under the gate: the probe is for us. FOUND opens the circuit's last hop, pending the origin's handshake.</summary>
    private void AnswerAsTarget(NeighborLink link, Probe probe, ProbeState state, List<NodeId> path)
    {
        var origin = path[0];
        if (options.AcceptCircuitsFrom is not { } allows || !allows(origin) || circuits.Count >= options.MaxCircuits || probe.InitialDcid.Length is < 8 or > ConnectionId.MaxLength)
        {
            LogCircuitRefused(logger, origin);
            DeadEnd(link, probe.ProbeId);
            return;
        }

        state.Answered = true;
        var circuit = carrier.Add(path, isOrigin: false, probe.CircuitKey.Length == MeshProtocol.CircuitKeySize ? probe.CircuitKey.ToByteArray() : null);
        var id = link.AllocateId();
        var hop = new CircuitHop(link, id, null, 0, circuit, Environment.TickCount64);
        circuit.Hop = hop;
        circuits.Add(hop);
        pins[new ConnectionId(probe.InitialDcid.Span)] = (origin, Environment.TickCount64 + (long)options.PendingCircuitLifetime.TotalMilliseconds);
        var answer = new ProbeAnswer { ProbeId = probe.ProbeId, Result = ProbeAnswer.Types.Result.Found, CircuitId = id };
        answer.Path.AddRange(path.Select(n => ByteString.CopyFrom(n.Bytes)));
        link.Send(new MeshMessage { Answer = answer });
    }

    /// <summary>
    /// Under the gate: a re-route probe for us. FOUND when it names a live circuit of ours from the same origin: the
    /// new last hop carries that circuit's connection from now on (no new accept); returns it and the hop it replaces.
    /// </summary>
    private (LocalCircuit Circuit, CircuitHop? Old)? AnswerResumeAsTarget(NeighborLink link, Probe probe, ProbeState state, List<NodeId> path)
    {
        var origin = path[0];
        var circuit = probe.Resumes.Length == MeshProtocol.CircuitKeySize ? carrier.FindResumable(origin, probe.Resumes.Span) : null;
        if (circuit is null || options.AcceptCircuitsFrom is not { } allows || !allows(origin) || circuits.Count >= options.MaxCircuits)
        {
            LogRerouteRefused(logger, origin);
            DeadEnd(link, probe.ProbeId);
            return null;
        }

        state.Answered = true;
        var id = link.AllocateId();
        var hop = new CircuitHop(link, id, null, 0, circuit, Environment.TickCount64);
        var old = circuit.Hop;
        circuits.Add(hop);
        circuit.Path = path;
        circuit.Hop = hop;
        var answer = new ProbeAnswer { ProbeId = probe.ProbeId, Result = ProbeAnswer.Types.Result.Found, CircuitId = id };
        answer.Path.AddRange(path.Select(n => ByteString.CopyFrom(n.Bytes)));
        link.Send(new MeshMessage { Answer = answer });
        return (circuit, old);
    }

    /// <summary>Under the gate: our re-route probe found the target again: the circuit's connection goes on over the new first hop.</summary>
    private void ResumeHere(NeighborLink link, uint circuitId, ProbeState state, LocalCircuit circuit, List<NodeId> path)
    {
        if (circuit.DownReason is not null)
        {
            Release(link, circuitId, "the circuit ended meanwhile");
            state.Found!.TrySetException(new MeshException("unreachable in time: the circuit ended meanwhile."));
            return;
        }

        var first = new CircuitHop(null, 0, link, circuitId, circuit, Environment.TickCount64);
        circuits.Add(first);
        circuit.Path = path;
        circuit.Hop = first;
        state.Found!.TrySetResult(first);
    }

    public void OnAnswer(NeighborLink link, ProbeAnswer answer)
    {
        var found = answer.Result == ProbeAnswer.Types.Result.Found;
        lock (gate)
        {
            if (!_probes.TryGetValue(answer.ProbeId, out var state) || !state.Outstanding.Remove(link))
            {
                if (found)
                {
                    Release(link, answer.CircuitId, "no probe of that id waits here");
                }

                return;
            }

            if (!found)
            {
                BranchEnded(answer.ProbeId, state);
                return;
            }

            if (state.Answered || circuits.Count >= options.MaxCircuits || answer.Path.Count < 2 || answer.Path.Any(p => p.Length != NodeId.Size))
            {
                Release(link, answer.CircuitId, state.Answered ? "another path answered first" : "no room for another circuit");
                BranchEnded(answer.ProbeId, state);
                return;
            }

            state.Answered = true;
            var path = answer.Path.Select(p => new NodeId(p.Span)).ToList();
            if (state.From is not { } from)
            {
                if (state.Resuming is { } resumed)
                {
                    ResumeHere(link, answer.CircuitId, state, resumed, path);
                    return;
                }

                // Our own dial: the circuit's first hop, pending until the end-to-end handshake goes through it.
                var circuit = carrier.Add(path, isOrigin: true, state.Key);
                var first = new CircuitHop(null, 0, link, answer.CircuitId, circuit, Environment.TickCount64);
                circuit.Hop = first;
                circuits.Add(first);
                state.Found!.TrySetResult(first);
                return;
            }

            var id = from.AllocateId();
            var hop = new CircuitHop(from, id, link, answer.CircuitId, null, Environment.TickCount64);
            circuits.Add(hop);
            var onward = answer.Clone();
            onward.CircuitId = id;
            if (!from.Send(new MeshMessage { Answer = onward }))
            {
                circuits.CloseHop(hop, from, "the link toward the origin is down");
            }
        }
    }

    /// <summary>Under the gate: a branch of a probe ended without the target; when none is left, say so upstream.</summary>
    private void BranchEnded(ulong probeId, ProbeState state)
    {
        if (state.Outstanding.Count > 0 || state.Answered)
        {
            return;
        }

        state.Answered = true;
        if (state.From is { } from)
        {
            DeadEnd(from, probeId);
        }
        else
        {
            state.Found!.TrySetException(new MeshException("unreachable: every branch of the probe dead-ended without finding it."));
        }
    }

    private static void DeadEnd(NeighborLink link, ulong probeId) =>
        link.Send(new MeshMessage { Answer = new ProbeAnswer { ProbeId = probeId, Result = ProbeAnswer.Types.Result.DeadEnd } });

    private static void Release(NeighborLink link, uint circuitId, string reason) =>
        link.Send(new MeshMessage { CircuitClose = new CircuitClose { CircuitId = circuitId, Reason = $"released: {reason}" } });

    /// <summary>Under the gate: room for one more probe state, after dropping the expired ones if need be.</summary>
    private bool TryMakeRoomForProbe()
    {
        if (_probes.Count < options.MaxProbeStates)
        {
            return true;
        }

        RemoveExpired(Environment.TickCount64);
        return _probes.Count < options.MaxProbeStates;
    }

    /// <summary>Under the gate: forgets the probes whose time is up.</summary>
    public void RemoveExpired(long now)
    {
        foreach (var (id, state) in _probes.ToList())
        {
            if (state.ExpiresTicks <= now)
            {
                _probes.Remove(id);
            }
        }
    }

    [LoggerMessage(EventId = 64, Level = LogLevel.Information, Message = "Circuit from {Origin} refused (not allowed, or no room)")]
    private static partial void LogCircuitRefused(ILogger logger, NodeId origin);

    [LoggerMessage(EventId = 67, Level = LogLevel.Information, Message = "Re-route from {Origin} refused (no live circuit of that key, not allowed, or no room)")]
    private static partial void LogRerouteRefused(ILogger logger, NodeId origin);
}
