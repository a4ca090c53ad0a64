using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Tunnels;
using QuicPipe.Tunnels.Diagnostics;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The running part of <c>quicpipe forward</c>: a server whose TCP listener carries each local connection over the
/// current connection to the peer (<see cref="TunnelServerBuilderExtensions.UseTcpOverQuic(TcpListenerBuilder, QuicConnectionProvider, TcpForwarderOptions)"/>).
/// When that connection ends its tunnels go with it (their streams are dead) and the peer is dialed again, with a
/// doubling delay capped at <see cref="MaxBackoff"/> so a peer that is gone for a while is not hammered. The port
/// stays open meanwhile: a local connection made during a re-dial waits for the new connection (up to the forwarder's
/// connect timeout) and is reset if none comes.
/// </summary>
internal sealed class ForwardSession(PeerServer endpoint, IPEndPoint listen, NodeId peer, int port, bool noCircuit)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs until <paramref name="interrupted"/> fires. The first dial's failure is thrown (the user asked for a peer
    /// that cannot be reached: say so and exit), as is a local port that cannot be bound; later dial failures are
    /// logged and retried.
    /// </summary>
    public async Task RunAsync(CancellationToken interrupted)
    {
        var connection = await PeerReach.DialAsync(endpoint, peer, noCircuit, interrupted).ConfigureAwait(false);
        var current = new CurrentConnection();
        current.Set(connection);

        // No defaults: forward logs nothing but its own lines, and reads no configuration files.
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.ListenTcp(listen, tcp => tcp.UseTcpOverQuic(current.WaitAsync, new TcpForwarderOptions { TargetPort = port }));
        await using var server = builder.Build();
        try
        {
            await server.StartAsync(interrupted).ConfigureAwait(false);
        }
        catch
        {
            await CloseQuietlyAsync(connection, "forward could not listen").ConfigureAwait(false);
            throw;
        }

        var forwarder = server.Listeners.Single().Features.GetRequiredFeature<TcpForwarder>();
        using var metrics = new TunnelMetrics();
        metrics.Add(forwarder);
        while (true)
        {
            await Console.Error.WriteLineAsync($"forwarding {forwarder.LocalEndPoint} -> {peer}:{port}").ConfigureAwait(false);
            await ServeAsync(connection, interrupted).ConfigureAwait(false);
            current.Clear();
            connection = await RedialAsync(interrupted).ConfigureAwait(false);
            current.Set(connection);
        }
    }

    /// <summary>Reports the connection's path until it ends; closes it if interrupted.</summary>
    private async Task ServeAsync(QuicConnection connection, CancellationToken interrupted)
    {
        // A circuit's path line is out already, and a circuit does not move.
        await using var path = PeerReach.IsCircuit(endpoint, connection) ? null : await PathReporter.StartAsync(endpoint.Peer.GetPath(connection), TimeSpan.Zero).ConfigureAwait(false);
        try
        {
            await connection.Closed.WaitAsync(interrupted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            await CloseQuietlyAsync(connection, "forward interrupted").ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            // A failed connection faults Closed; either way it is over and the reason is worth a line.
            await Console.Error.WriteLineAsync($"connection to {peer} lost: {e.Message}").ConfigureAwait(false);
            return;
        }

        await Console.Error.WriteLineAsync($"connection to {peer} closed{(connection.CloseReason is { } r ? $": {r}" : string.Empty)}").ConfigureAwait(false);
    }

    private async Task<QuicConnection> RedialAsync(CancellationToken interrupted)
    {
        var delay = FirstBackoff;
        for (var attempt = 1; ; attempt++)
        {
            await Console.Error.WriteLineAsync($"re-dialing {peer} in {delay.TotalSeconds:0}s (attempt {attempt})").ConfigureAwait(false);
            await Task.Delay(delay, interrupted).ConfigureAwait(false);
            try
            {
                return await PeerReach.DialAsync(endpoint, peer, noCircuit, interrupted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is PeerException or QuicConnectionException)
            {
                await Console.Error.WriteLineAsync($"re-dial of {peer} failed: {e.Message}").ConfigureAwait(false);
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>Tells the peer we are going (so its tunnels end at once), without letting a slow peer delay exit.</summary>
    private static async Task CloseQuietlyAsync(QuicConnection connection, string reason)
    {
        try
        {
            await connection.CloseAsync(0, reason).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or QuicConnectionException or ObjectDisposedException)
        {
        }
    }
}
