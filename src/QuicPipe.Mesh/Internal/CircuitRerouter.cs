using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// The ends of circuits that end here, when their hop closes (docs/circuits.md, "Re-route"): a break of a live
/// connection is carried over to another path within <see cref="MeshNodeOptions.RerouteWindow"/> (the origin probes
/// for the target again, the target waits for that probe); anything else, or no path in time, ends the circuit.
/// </summary>
/// <remarks>The node's lock (<paramref name="gate"/>) makes "is the hop still the broken one" and the end one step.</remarks>
internal sealed partial class CircuitRerouter(MeshNodeOptions options, Lock gate, LinkKeeper links, ProbeRouter probes, CircuitSwitch circuits, ILogger logger, CancellationToken stopping)
{
    /// <summary>
    /// The hop of a circuit that ends here closed. A break (a link went down, or a close came from the path) of a
    /// live connection is re-routed (at the origin) or waited out for a re-route (at the target, while it has a
    /// link that could bring one) within <see cref="MeshNodeOptions.RerouteWindow"/>; anything else ends it.
    /// </summary>
    public void OnHopClosed(LocalCircuit local, CircuitHop hop, NeighborLink? from, string reason, bool cleanEnd)
    {
        bool resume;
        lock (gate)
        {
            if (local.Hop != hop)
            {
                // A re-route replaced this hop already.
                return;
            }

            resume = !cleanEnd && from is not null && CanResume(local) && (local.IsOrigin || links.Up.Any(l => l.CarriesCells));
            if (!resume)
            {
                circuits.EndLocal(local, reason, cleanEnd);
                return;
            }
        }

        LogCircuitBroken(logger, local.IsOrigin ? local.Path[^1] : local.Path[0], reason);
        _ = local.IsOrigin ? RerouteAsync(local, hop, reason) : AwaitRerouteAsync(local, hop, reason);
    }

    /// <summary>Under the gate: whether a break of <paramref name="local"/> may be re-routed.</summary>
    private bool CanResume(LocalCircuit local) =>
        options.RerouteWindow > TimeSpan.Zero && local.Key is not null && local.DownReason is null && local.Circuit is { } circuit && !circuit.Connection.Closed.IsCompleted && !stopping.IsCancellationRequested;

    /// <summary>
    /// The origin's side of a re-route: one probe for the target naming the circuit's key (a flood tries every path
    /// at once), within the window; its first FOUND carries the connection on. Dead-ended or out of time: the
    /// circuit ends as a break without re-route does.
    /// </summary>
    private async Task RerouteAsync(LocalCircuit local, CircuitHop broken, string reason)
    {
        var target = local.Path[^1];
        var window = options.RerouteWindow;
        var deadline = Environment.TickCount64 + (long)window.TotalMilliseconds;
        string why;
        try
        {
            // The break may have taken our only link: one that comes back within the window still serves.
            while (!links.AnyCarriesCells())
            {
                if (Environment.TickCount64 >= deadline)
                {
                    throw new MeshException($"{target} unreachable: no neighbour link is up.");
                }

                await Task.Delay(50, stopping).ConfigureAwait(false);
            }

            var state = new ProbeState(null, deadline)
            {
                Found = new(TaskCreationOptions.RunContinuationsAsynchronously),
                Resuming = local,
            };
            var probe = probes.NewProbe(target);
            probe.Resumes = ByteString.CopyFrom(local.Key);
            var sent = Stopwatch.GetTimestamp();
            probes.SendProbe(target, probe, state);
            await probes.AwaitFoundAsync(target, state, deadline, window, stopping).ConfigureAwait(false);
            await ReportRerouteAsync(local, Stopwatch.GetElapsedTime(sent)).ConfigureAwait(false);
            return;
        }
        catch (MeshException e)
        {
            why = e.Message;
        }
        catch (OperationCanceledException)
        {
            why = "the node is stopping";
        }

        lock (gate)
        {
            if (local.Hop == broken)
            {
                circuits.EndLocal(local, $"{reason}; no other path: {why}", clean: false);
            }
        }
    }

    /// <summary>The target's side of a re-route: the connection waits the window for the origin's re-route probe.</summary>
    private async Task AwaitRerouteAsync(LocalCircuit local, CircuitHop broken, string reason)
    {
        try
        {
            await Task.Delay(options.RerouteWindow, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        lock (gate)
        {
            if (local.Hop == broken)
            {
                circuits.EndLocal(local, $"{reason}; no other path within {options.RerouteWindow.TotalSeconds:0.#} s", clean: false);
            }
        }
    }

    /// <summary>Tells the circuit's owner of its new path: <paramref name="rtt"/> as the probe measured it, or (null) the connection's.</summary>
    public async Task ReportRerouteAsync(LocalCircuit local, TimeSpan? rtt)
    {
        if (local.Circuit is not { } circuit)
        {
            return;
        }

        var measured = rtt ?? circuit.Rtt;
        if (rtt is null)
        {
            try
            {
                measured = (await circuit.Connection.GetStatsAsync(stopping).ConfigureAwait(false)).SmoothedRtt;
            }
            catch (Exception e) when (e is QuicConnectionException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        var path = local.Path;
        LogCircuitRerouted(logger, local.IsOrigin ? path[^1] : path[0], string.Join(",", path.Skip(1).SkipLast(1)));
        circuit.OnRerouted(path, measured);
    }

    [LoggerMessage(EventId = 65, Level = LogLevel.Information, Message = "Circuit with {Peer} broke ({Reason}): trying another path")]
    private static partial void LogCircuitBroken(ILogger logger, NodeId peer, string reason);

    [LoggerMessage(EventId = 66, Level = LogLevel.Information, Message = "Circuit with {Peer} re-routed via {Via}")]
    private static partial void LogCircuitRerouted(ILogger logger, NodeId peer, string via);
}
