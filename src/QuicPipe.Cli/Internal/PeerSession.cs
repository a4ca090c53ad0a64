using System.CommandLine;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// What <c>dial</c> and <c>accept</c> share: start the peer endpoint, get one connection (each its own way), say
/// which path it took, run the netcat session. Exit codes: 0 done, 1 failed at run time (relay unreachable,
/// refused, unknown NodeId, connection lost, another process with the same key took over at the relay, a loop that died,
/// a transfer cut by a signal), 2 bad flags or key file. SIGINT and SIGTERM stop the command cleanly: the connection is
/// closed and the routes unregistered at the relay, then exit 0 (1 if a transfer was cut). READY=1 to a service
/// manager once registered with the relay.
/// </summary>
internal static class PeerSession
{
    public static async Task<int> RunAsync(
        string command,
        ParseResult parse,
        PeerCommandOptions flags,
        NetcatOptions netcat,
        Action<PeerEndpointOptions> configure,
        Func<PeerServer, CancellationToken, Task<(QuicConnection Connection, QuicStream Stream)>> connect,
        CancellationToken interrupted)
    {
        using var loggers = PeerCommandOptions.CreateLoggers(parse.GetValue(flags.LogLevel));
        if (flags.BuildOrReport(command, parse, loggers, configure) is not { } options)
        {
            return 2;
        }

        PeerServer? running = null;
        var liveness = new LivenessChecks();
        MetricsEndpoint? metrics = null;

        // Stopped (SIGINT, SIGTERM), or a loop died (the watcher, which makes the exit code 1).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(interrupted);
        using var signals = new StopSignals(stop);
        var notifier = new ServiceNotifier();
        using var stopping = notifier.StoppingOn(stop.Token);
        await using var watcher = new LoopWatcher(command, liveness, stop);
        try
        {
            // Bound before the peer starts: a taken metrics port fails the command before it reaches the relay.
            if (parse.GetValue(flags.Metrics) is { } metricsAddress)
            {
                metrics = await MetricsEndpoint.StartAsync(metricsAddress, command, liveness, stop.Token).ConfigureAwait(false);
            }

            running = await PeerServer.StartAsync(options, loggers, connections: null, listeners: null, parse.GetValue(flags.EncryptedHops), stop.Token).ConfigureAwait(false);
            liveness.Add(running.Server);
            notifier.Ready();
            var started = running;
            return await EndpointLifetime.RunAsync(started.Peer, async cancellationToken =>
            {
                var (connection, stream) = await connect(started, cancellationToken).ConfigureAwait(false);

                // A circuit's path line is out already, and PeerReach prints it again when the circuit moves.
                await using var reporter = PeerReach.IsCircuit(started, connection) ? null : await PathReporter.StartAsync(started.Peer.GetPath(connection), parse.GetValue(netcat.StatsInterval)).ConfigureAwait(false);
                return await new NetcatSession(connection, stream, started.Peer.NodeId, command, options.PeerTimeout) { CircuitDown = () => started.Mesh?.FindCircuit(connection)?.DownReason }.RunAsync(parse.GetValue(netcat.Hello), cancellationToken).ConfigureAwait(false);
            }, stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MetricsEndpointException or PeerException or QuicConnectionException or QuicStreamAbortedException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"quicpipe {command}: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped before a transfer began (accept still waiting, a dial under way): nothing was cut.
            return watcher.ExitCode(0);
        }
        finally
        {
            if (running is not null)
            {
                await running.DisposeAsync().ConfigureAwait(false);
            }

            if (metrics is not null)
            {
                await metrics.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
