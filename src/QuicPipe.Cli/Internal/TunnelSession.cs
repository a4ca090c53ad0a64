using System.CommandLine;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// What <c>forward</c>, <c>expose</c> and <c>proxy</c> share: start the peer (with the command's handlers of its
/// incoming connections, if any) and run until interrupted. Unlike the
/// netcat commands they are services, so an interruption (SIGINT/SIGTERM) is the normal end: exit 0. Exit 1 for
/// failures at run time (relay unreachable, peer unknown or refusing, local port taken, another process with the
/// same key took over at the relay, a loop that died: <see cref="LoopWatcher"/>), 2 for bad flags or key. A service
/// manager hears READY=1 once the peer serves and STOPPING=1 when it begins to stop (<see cref="ServiceNotifier"/>).
/// </summary>
internal static class TunnelSession
{
    public static async Task<int> RunAsync(
        string command,
        ParseResult parse,
        PeerCommandOptions flags,
        Action<PeerEndpointOptions> configure,
        Func<PeerServer, CancellationToken, Task> run,
        CancellationToken interrupted,
        Action<IMultiplexedConnectionBuilder>? peerConnections = null,
        Action<QuicPipeServerBuilder, PeerEndpoint>? listeners = null)
    {
        using var loggers = PeerCommandOptions.CreateLoggers(parse.GetValue(flags.LogLevel));
        if (flags.BuildOrReport(command, parse, loggers, configure) is not { } options)
        {
            return 2;
        }

        // SIGINT and SIGTERM are the normal end here.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(interrupted);
        using var signals = new StopSignals(stop);
        PeerServer? running = null;
        var liveness = new LivenessChecks();
        MetricsEndpoint? metrics = null;
        var notifier = new ServiceNotifier();
        using var stopping = notifier.StoppingOn(stop.Token);

        // Disposed after the finally below: /healthz answers 503 until the metrics endpoint is gone.
        await using var watcher = new LoopWatcher(command, liveness, stop);
        try
        {
            // Bound before the peer starts: a taken metrics port fails the command before it reaches the relay.
            if (parse.GetValue(flags.Metrics) is { } metricsAddress)
            {
                metrics = await MetricsEndpoint.StartAsync(metricsAddress, command, liveness, stop.Token).ConfigureAwait(false);
            }

            running = await PeerServer.StartAsync(options, loggers, peerConnections, listeners, parse.GetValue(flags.EncryptedHops), stop.Token).ConfigureAwait(false);
            liveness.Add(running.Server);

            // Serving now: registered with the relay, the command's listeners (a VPN's device, a TCP port) bound.
            notifier.Ready();
            var started = running;
            await EndpointLifetime.RunAsync(started.Peer, cancellationToken => run(started, cancellationToken), stop.Token).ConfigureAwait(false);
            return watcher.ExitCode(0);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return watcher.ExitCode(0);
        }
        catch (Exception e) when (e is MetricsEndpointException or PeerException or QuicConnectionException or SocketException or TunDeviceException)
        {
            await Console.Error.WriteLineAsync($"quicpipe {command}: {e.Message}").ConfigureAwait(false);
            return 1;
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
