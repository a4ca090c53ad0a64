using System.Net;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Tunnels;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The running part of <c>quicpipe forward</c>: one connection to the peer with a <see cref="TcpForwarder"/> on it.
/// When the connection ends the forwarder goes with it (its streams are dead) and the peer is dialed again, with a
/// doubling delay capped at <see cref="MaxBackoff"/> so a peer that is gone for a while is not hammered, and the
/// forwarder is started again on the same local address.
/// </summary>
internal sealed class ForwardSession(PeerEndpoint endpoint, IPEndPoint listen, NodeId peer, int port)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs until <paramref name="interrupted"/> fires. The first dial's failure is thrown (the user asked for a peer
    /// that cannot be reached: say so and exit); later failures are logged and retried.
    /// </summary>
    public async Task RunAsync(CancellationToken interrupted)
    {
        var connection = await endpoint.DialAsync(peer, interrupted).ConfigureAwait(false);
        while (true)
        {
            await ServeAsync(connection, interrupted).ConfigureAwait(false);
            connection = await RedialAsync(interrupted).ConfigureAwait(false);
        }
    }

    /// <summary>Forwards over <paramref name="connection"/> until it ends; closes it if interrupted.</summary>
    private async Task ServeAsync(QuicConnection connection, CancellationToken interrupted)
    {
        var forwarder = TcpForwarder.Start(connection, listen, new TcpForwarderOptions { TargetPort = port });
        await using var path = await PathReporter.StartAsync(endpoint.GetPath(connection), TimeSpan.Zero).ConfigureAwait(false);
        try
        {
            await Console.Error.WriteLineAsync($"forwarding {forwarder.LocalEndPoint} -> {peer}:{port}").ConfigureAwait(false);
            try
            {
                await connection.Closed.WaitAsync(interrupted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failed connection faults Closed; either way it is over and the reason is worth a line.
                await Console.Error.WriteLineAsync($"connection to {peer} lost: {e.Message}").ConfigureAwait(false);
                return;
            }

            await Console.Error.WriteLineAsync($"connection to {peer} closed{(connection.CloseReason is { } r ? $": {r}" : string.Empty)}").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await forwarder.DisposeAsync().ConfigureAwait(false);
        }
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
                return await endpoint.DialAsync(peer, interrupted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is PeerException or QuicConnectionException)
            {
                await Console.Error.WriteLineAsync($"re-dial of {peer} failed: {e.Message}").ConfigureAwait(false);
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>Tells the peer we are going (so its tunnels end at once), without letting a slow peer delay exit.</summary>
    private static async Task CloseQuietlyAsync(QuicConnection connection)
    {
        try
        {
            await connection.CloseAsync(0, "forward interrupted").WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or QuicConnectionException or ObjectDisposedException)
        {
        }
    }
}
