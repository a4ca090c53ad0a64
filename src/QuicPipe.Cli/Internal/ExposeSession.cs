using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Mesh;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Tunnels;
using QuicPipe.Tunnels.Diagnostics;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// <c>quicpipe expose</c>'s handlers on the peer's incoming connections (composed with <c>UsePeer</c>): a line and a
/// path report for each peer, then one <see cref="TcpExposer"/> serving its tunnel streams. The endpoint already turns
/// away dialers not in --allow; the exposer checks the peer again (<see cref="TcpExposerOptions.AllowedPeers"/>) so
/// the port allow-list never depends on one layer alone.
/// </summary>
internal sealed class ExposeSession
{
    private readonly IReadOnlyCollection<int> _ports;
    private readonly IReadOnlyCollection<NodeId> _allowed;
    private readonly TcpExposer _exposer;
    private readonly TunnelMetrics _metrics = new();
    private PeerEndpoint? _endpoint;
    private volatile bool _stopping;

    public ExposeSession(IReadOnlyCollection<int> ports, IReadOnlyCollection<NodeId> allowed)
    {
        _ports = ports;
        _allowed = allowed;
        var options = new TcpExposerOptions { AllowedPeers = new HashSet<NodeId>(allowed) };
        foreach (var port in ports)
        {
            options.AllowedPorts.Add(port);
        }

        _exposer = new TcpExposer(options);
        _exposer.Rejected += (_, e) => Console.Error.WriteLine($"refused a tunnel from {e.Peer?.ToString() ?? "?"}: {e.Status}");
        _metrics.Add(_exposer);
    }

    /// <summary>The handlers of the peer's incoming connections: the report, then the exposer.</summary>
    public void Compose(IMultiplexedConnectionBuilder connections) =>
        connections.Use(Report).Run(_exposer.OnConnectedAsync);

    /// <summary>
    /// Runs until interrupted, serving the peers that come through circuits too (when the node has neighbours); then
    /// resets the tunnels still open, and each connection's handler ends.
    /// </summary>
    public async Task RunAsync(PeerServer server, CancellationToken interrupted)
    {
        var endpoint = server.Peer;
        _endpoint = endpoint;
        try
        {
            await Console.Error.WriteLineAsync($"exposing 127.0.0.1 port(s) {string.Join(", ", _ports)} as {endpoint.NodeId} to {_allowed.Count} peer(s)").ConfigureAwait(false);
            if (server.Mesh is { } mesh)
            {
                await ServeCircuitsAsync(mesh, interrupted).ConfigureAwait(false);
            }

            await Task.Delay(Timeout.Infinite, interrupted).ConfigureAwait(false);
        }
        finally
        {
            _stopping = true;
            await _exposer.DisposeAsync().ConfigureAwait(false);
            _metrics.Dispose();
        }
    }

    /// <summary>Each circuit that ends here (the mesh checked its origin against --allow) gets the exposer, as a relayed connection does.</summary>
    private async Task ServeCircuitsAsync(MeshNode mesh, CancellationToken interrupted)
    {
        // Each served until its connection ends or the exposer is disposed (RunAsync's end).
        while (true)
        {
            var circuit = await mesh.AcceptAsync(interrupted).ConfigureAwait(false);
            await PeerReach.ReportAsync(circuit).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"accepted {circuit.Peer} (via circuit)").ConfigureAwait(false);
            _ = ServeCircuitAsync(circuit.Connection);
        }
    }

    private async Task ServeCircuitAsync(QuicConnection connection)
    {
        try
        {
            await using var context = connection.AsMultiplexedConnectionContext();
            await _exposer.OnConnectedAsync(context).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException or OperationCanceledException)
        {
            // The circuit or the exposer ended: so does this peer's service.
        }

        if (!_stopping)
        {
            await Console.Error.WriteLineAsync($"peer {connection.RemoteNodeId} disconnected").ConfigureAwait(false);
        }
    }

    private MultiplexedConnectionDelegate Report(MultiplexedConnectionDelegate next) => async context =>
    {
        var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
        await Console.Error.WriteLineAsync($"accepted {connection.RemoteNodeId} (via {connection.RemoteEndPoint})").ConfigureAwait(false);
        await using (await PathReporter.StartAsync(_endpoint!.GetPath(connection), TimeSpan.Zero).ConfigureAwait(false))
        {
            await next(context).ConfigureAwait(false);
        }

        if (_stopping)
        {
            // Closing tells the forwarder at once (it re-dials) instead of after an idle timeout.
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
        }
        else
        {
            await Console.Error.WriteLineAsync($"peer {connection.RemoteNodeId} disconnected").ConfigureAwait(false);
        }
    };

    private static async Task CloseQuietlyAsync(QuicConnection connection)
    {
        try
        {
            await connection.CloseAsync(0, "expose stopped").WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or QuicConnectionException or ObjectDisposedException)
        {
        }
    }
}
