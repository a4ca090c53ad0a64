using System.Collections.Concurrent;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Tunnels;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The running part of <c>quicpipe expose</c>: one <see cref="TcpExposer"/> serving every connection the endpoint
/// accepts. The endpoint already turns away dialers not in --allow; the exposer checks the peer again
/// (<see cref="TcpExposerOptions.AllowedPeers"/>) so the port allow-list never depends on one layer alone.
/// </summary>
internal sealed class ExposeSession(PeerEndpoint endpoint, IReadOnlyCollection<int> ports, IReadOnlyCollection<NodeId> allowed)
{
    private readonly ConcurrentDictionary<QuicConnection, Task> _serving = new();

    public async Task RunAsync(CancellationToken interrupted)
    {
        var options = new TcpExposerOptions { AllowedPeers = new HashSet<NodeId>(allowed) };
        foreach (var port in ports)
        {
            options.AllowedPorts.Add(port);
        }

        var exposer = new TcpExposer(options);
        exposer.Rejected += (_, e) => Console.Error.WriteLine($"refused a tunnel from {e.Peer?.ToString() ?? "?"}: {e.Status}");
        try
        {
            await Console.Error.WriteLineAsync($"exposing 127.0.0.1 port(s) {string.Join(", ", ports)} as {endpoint.NodeId} to {allowed.Count} peer(s)").ConfigureAwait(false);
            while (true)
            {
                var connection = await endpoint.AcceptAsync(interrupted).ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"accepted {connection.RemoteNodeId} (via {connection.RemoteEndPoint})").ConfigureAwait(false);
                _serving[connection] = ServeAsync(exposer, connection, interrupted);
            }
        }
        finally
        {
            // Resets the tunnels still open, then lets each connection's serve loop see the cancellation.
            await exposer.DisposeAsync().ConfigureAwait(false);
            await Task.WhenAll(_serving.Values).ConfigureAwait(false);
        }
    }

    private async Task ServeAsync(TcpExposer exposer, QuicConnection connection, CancellationToken interrupted)
    {
        await Task.Yield();
        await using var path = await PathReporter.StartAsync(endpoint.GetPath(connection), TimeSpan.Zero).ConfigureAwait(false);
        try
        {
            await exposer.ServeAsync(connection, interrupted).ConfigureAwait(false);
            if (!interrupted.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync($"peer {connection.RemoteNodeId} disconnected").ConfigureAwait(false);
            }
        }
        finally
        {
            if (interrupted.IsCancellationRequested)
            {
                // Closing tells the forwarder at once (it re-dials) instead of after an idle timeout.
                await CloseQuietlyAsync(connection).ConfigureAwait(false);
            }

            _serving.TryRemove(connection, out _);
        }
    }

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
