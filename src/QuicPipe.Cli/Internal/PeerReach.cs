using QuicPipe.Mesh;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// How a peer command reaches another peer and is reached: through the relay, or, when the relay does not know the
/// target and the node has neighbours, through a circuit (docs/circuits.md). A circuit says so on stderr:
/// <c>path: circuit via NODEID,NODEID rtt Nms peer NODEID</c>, and again when it is re-routed.
/// </summary>
internal static class PeerReach
{
    /// <summary>
    /// Dials <paramref name="target"/> through the relay; if it does not know the target, through a circuit (unless
    /// <paramref name="noCircuit"/>). A circuit that cannot be built is a <see cref="PeerException"/> (unreachable)
    /// with the mesh's reason.
    /// </summary>
    public static async Task<QuicConnection> DialAsync(PeerServer server, NodeId target, bool noCircuit, CancellationToken cancellationToken)
    {
        try
        {
            return await server.Peer.DialAsync(target, cancellationToken).ConfigureAwait(false);
        }
        catch (PeerException e) when (e.Failure == PeerFailure.PeerUnreachable && !noCircuit && server.Mesh is { } mesh)
        {
            MeshCircuit circuit;
            try
            {
                circuit = await mesh.DialAsync(target, cancellationToken).ConfigureAwait(false);
            }
            catch (MeshException circuitError)
            {
                throw new PeerException(PeerFailure.PeerUnreachable, $"{e.Message}; no circuit either: {circuitError.Message}", circuitError);
            }

            await ReportAsync(circuit).ConfigureAwait(false);
            return circuit.Connection;
        }
    }

    /// <summary>The next connection from the relay's side or from a circuit, whichever comes first.</summary>
    public static async Task<QuicConnection> AcceptAsync(PeerServer server, CancellationToken cancellationToken)
    {
        if (server.Mesh is not { } mesh)
        {
            return await server.Peer.AcceptAsync(cancellationToken).ConfigureAwait(false);
        }

        using var other = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var relayed = server.Peer.AcceptAsync(other.Token).AsTask();
        var circuit = mesh.AcceptAsync(other.Token).AsTask();
        var first = await Task.WhenAny(relayed, circuit).ConfigureAwait(false);

        // A channel read that is cancelled takes nothing: the other kind stays queued for a later accept.
        await other.CancelAsync().ConfigureAwait(false);
        if (first == circuit)
        {
            var accepted = await circuit.ConfigureAwait(false);
            await ReportAsync(accepted).ConfigureAwait(false);
            await CloseIfAlsoAcceptedAsync(relayed).ConfigureAwait(false);
            return accepted.Connection;
        }

        await CloseIfAlsoAcceptedAsync(circuit.ContinueWith(t => t.Result.Connection, TaskScheduler.Default)).ConfigureAwait(false);
        return await relayed.ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="connection"/> runs in a circuit: its path line is then already out.</summary>
    public static bool IsCircuit(PeerServer server, QuicConnection connection) => server.Mesh?.FindCircuit(connection) is not null;

    /// <summary>The circuit's path line (stderr), now and again each time the circuit is re-routed.</summary>
    public static Task ReportAsync(MeshCircuit circuit)
    {
        circuit.Rerouted += (_, _) => Console.Error.WriteLine(PathLine(circuit));
        return Console.Error.WriteLineAsync(PathLine(circuit));
    }

    private static string PathLine(MeshCircuit circuit) =>
        $"path: circuit via {string.Join(",", circuit.Via)} rtt {circuit.Rtt.TotalMilliseconds:0.###}ms peer {circuit.Peer}";

    // Both accepts completed at once: the one not taken is closed rather than left open unseen.
    private static async Task CloseIfAlsoAcceptedAsync(Task<QuicConnection> loser)
    {
        try
        {
            var connection = await loser.ConfigureAwait(false);
            await connection.CloseAsync(0, "this command takes one connection").ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or AggregateException or PeerException or ObjectDisposedException or QuicConnectionException)
        {
        }
    }
}
