using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using QuicPipe.Cli.Internal;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;
using QuicPipe.Relay;
using QuicPipe.Relay.Fleet;
using QuicPipe.Xdp;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe relay</c>: forward QUIC packets by destination connection ID.</summary>
internal static class RelayCommand
{
    private static readonly TimeSpan DefaultStatsInterval = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var listen = new Option<PeerAddress[]>("--listen", "-l")
        {
            Description = $"UDP address to serve, HOST:PORT or [IPv6]:PORT; repeat for several. Default: 0.0.0.0:{RelayOptions.DefaultPort} and [::]:{RelayOptions.DefaultPort}.",
            HelpName = "ADDR:PORT",
            Arity = ArgumentArity.ZeroOrMore,
            CustomParser = ParseAddresses,
        };
        var routes = new Option<FileInfo?>("--routes")
        {
            Description = "Static routes file: one 'CIDHEX HOST:PORT' per line, '#' starts a comment. Send SIGHUP to reload it.",
            HelpName = "FILE",
        };
        var cidLength = CliOptions.Int("--cid-length", "Destination CID length in short-header packets, in bytes.", RelayOptions.DefaultCidLength, 1, ConnectionId.MaxLength, "BYTES");
        var threads = CliOptions.Int("--threads", "Receive loops (SO_REUSEPORT sockets) per listen address.", Environment.ProcessorCount, 1, 256);
        var batch = CliOptions.Int("--batch", "Datagrams per recvmmsg/sendmmsg batch.", PacketBatch.DefaultCapacity, 1, PacketBatch.MaxCapacity);
        var maxDatagram = CliOptions.Int("--max-datagram", "Largest datagram forwarded, in bytes; larger ones are dropped and counted as oversize.", PacketBatch.DefaultSlotSize, 64, PacketBatch.MaxSlotSize, "BYTES");
        var tableCapacity = CliOptions.Int("--table-capacity", "Routes the CID table holds at most (bounds memory; when full, routes not used lately are evicted).", RelayOptions.DefaultTableCapacity, 1, 64 * 1024 * 1024);
        var gso = OnOff("--gso", "UDP generic segmentation offload on send: one syscall entry per run of same-destination, same-size datagrams.");
        var gro = OnOff("--gro", "UDP generic receive offload: the kernel may hand over several datagrams of a flow at once.");
        var receiveBuffer = CliOptions.Int("--recv-buffer", "Socket receive buffer (SO_RCVBUF) in bytes.", new UdpSocketOptions().ReceiveBufferBytes, 4096, int.MaxValue, "BYTES");
        var sendBuffer = CliOptions.Int("--send-buffer", "Socket send buffer (SO_SNDBUF) in bytes.", new UdpSocketOptions().SendBufferBytes, 4096, int.MaxValue, "BYTES");
        var statsInterval = CliOptions.Duration("--stats-interval", "Print counters to stderr this often (e.g. 1s, 500ms); 0 turns it off.", DefaultStatsInterval);
        var statsFormat = new Option<StatsFormat>("--stats-format")
        {
            HelpName = "text|json",
            Description = "text: one line of rates (redrawn in place on a terminal); json: one object of cumulative counters per interval.",
            DefaultValueFactory = _ => StatsFormat.Text,
        };
        var xdp = new Option<string?>("--xdp")
        {
            Description = "Offload forwarding to an XDP program attached to this interface (needs root): routed packets are rewritten and sent back out in the driver; the rest reach the relay as before. The program's route table is sized from --table-capacity: 64-byte slots, the next power of two at or above twice the capacity (32 MiB of kernel memory at the default); see bpf/README.md.",
            HelpName = "IFACE",
        };
        var xdpMode = new Option<string>("--xdp-mode")
        {
            Description = "native: in the driver (falls back to generic, with a warning, if the driver refuses); generic: in the stack, works everywhere, slower.",
            DefaultValueFactory = _ => "native",
            HelpName = "native|generic",
        };
        xdpMode.AcceptOnlyFromAmong("native", "generic");
        var key = new Option<FileInfo?>("--key")
        {
            Description = "The relay's identity file (from 'quicpipe keygen'): its NodeId is what peers pin with --relay-id. Without it a new identity is made at each start.",
            HelpName = "FILE",
        };
        var logLevel = new Option<LogLevel>("--log-level")
        {
            Description = "Least severe log messages shown.",
            HelpName = "LEVEL",
            DefaultValueFactory = _ => LogLevel.Information,
        };
        var metrics = MetricsOption.Create();
        var retry = new Option<string>("--retry")
        {
            Description = "Validate a peer's address with a QUIC Retry before its control handshake: auto (once 32 handshakes are open, as under a flood), always, or never.",
            DefaultValueFactory = _ => "auto",
            HelpName = "auto|always|never",
        };
        retry.AcceptOnlyFromAmong("auto", "always", "never");
        var peers = new Option<FileInfo?>("--peers")
        {
            Description = "Only the NodeIds listed in this file (one per line, # comments) may register with the relay; others are refused with NOT_ALLOWED. Re-read on SIGHUP.",
            HelpName = "FILE",
        };

        var directory = new Option<string?>("--directory")
        {
            Description = $"Join a relay fleet through this directory: {RelayDirectoryUrl.Schemes}. The relay publishes every identity registered with it (on a lease that lapses within 10 s of its death) and serves dials for NodeIds registered at the other relays of the same directory (docs/fleet.md).",
            HelpName = "URL",
        };
        var publicAddress = new Option<PeerAddress?>("--public-address")
        {
            Description = "With --directory: the address the other relays of the fleet send this relay's peers' packets to. Default: the first --listen address (which then must not be a wildcard).",
            HelpName = "ADDR:PORT",
            CustomParser = ParseAddress,
        };

        var command = new Command("relay", "Forward QUIC packets, unmodified, to the endpoint registered for their destination connection ID.")
        {
            listen, routes, cidLength, threads, batch, maxDatagram, tableCapacity, gso, gro,
            receiveBuffer, sendBuffer, xdp, xdpMode, key, statsInterval, statsFormat, logLevel, metrics,
            retry, peers, directory, publicAddress,
        };
        CliOptions.AddValidator(command, result =>
        {
            if (result.GetValue(directory) is { } url && !RelayDirectoryUrl.TryParse(url, out _, out var directoryError))
            {
                result.AddError($"--directory: {directoryError}");
            }
            else if (result.GetValue(directory) is not null && result.GetValue(publicAddress) is null &&
                (result.GetValue(listen) is not { Length: > 0 } given || IsWildcard(given[0])))
            {
                result.AddError("--directory: other relays cannot send to a wildcard address: give --public-address ADDR:PORT or --listen a specific address.");
            }
            else if (result.GetResult(publicAddress) is not null && result.GetValue(directory) is null)
            {
                result.AddError("--public-address needs --directory URL.");
            }

            if (result.GetResult(xdpMode) is { Implicit: false } && result.GetValue(xdp) is null)
            {
                result.AddError("--xdp-mode needs --xdp IFACE.");
            }
        });

        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new RelayOptions
            {
                RoutesFile = parse.GetValue(routes)?.FullName,
                CidLength = parse.GetValue(cidLength),
                TableCapacity = parse.GetValue(tableCapacity),
            };
            if (parse.GetValue(directory) is { } directoryUrl)
            {
                RelayDirectoryUrl.TryParse(directoryUrl, out var parsedDirectory, out _);
                options.Directory = parsedDirectory;
                options.PublicAddress = parse.GetValue(publicAddress);
            }

            options.Control.Retry = Enum.Parse<QuicRetryMode>(parse.GetValue(retry)!, ignoreCase: true);
            if (parse.GetValue(peers) is { } peersFile)
            {
                try
                {
                    options.AllowList = PeerAllowList.Load(peersFile.FullName);
                }
                catch (PeerAllowListException e)
                {
                    await Console.Error.WriteLineAsync($"quicpipe relay: --peers: {e.Message}").ConfigureAwait(false);
                    return 2;
                }
            }

            // How the listener's sockets are served: the transport is the server's, not the relay's.
            void Transport(UdpListenerBuilder udp)
            {
                udp.Threads = parse.GetValue(threads);
                udp.BatchSize = parse.GetValue(batch);
                udp.SlotSize = parse.GetValue(maxDatagram);
                udp.Socket = new UdpSocketOptions
                {
                    EnableGso = parse.GetValue(gso) == "on",
                    EnableGro = parse.GetValue(gro) == "on",
                    ReceiveBufferBytes = parse.GetValue(receiveBuffer),
                    SendBufferBytes = parse.GetValue(sendBuffer),
                };
            }

            var xdpOptions = parse.GetValue(xdp) is { } xdpInterface
                ? new RelayXdpOptions
                {
                    Interface = xdpInterface,
                    Mode = parse.GetValue(xdpMode) == "generic" ? XdpAttachMode.Generic : XdpAttachMode.Native,
                }
                : null;

            if (parse.GetValue(key) is { } keyFile)
            {
                try
                {
                    options.Identity = NodeIdentity.LoadKeyFile(keyFile.FullName);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    await Console.Error.WriteLineAsync($"quicpipe relay: --key: {e.Message}").ConfigureAwait(false);
                    return 2;
                }
            }

            IReadOnlyList<PeerAddress> addresses = parse.GetValue(listen) is { Length: > 0 } given
                ? given
                : Socket.OSSupportsIPv6 ? RelayOptions.DefaultListen : [RelayOptions.DefaultListen[0]];
            var reporting = new RelayReporting(parse.GetValue(statsInterval), parse.GetValue(statsFormat), parse.GetValue(metrics));
            // The arguments as given: a SIGHUP re-reads the file and the environment with them, as a start would.
            var configReload = ConfigDefaults.ConfigFileOf(parse) is { } configFile
                ? new ConfigFileReload(parse, Environment.GetCommandLineArgs()[1..], configFile)
                : null;
            return await RunAsync(addresses, Transport, options, xdpOptions, reporting, configReload, parse.GetValue(logLevel), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(
        IReadOnlyList<PeerAddress> addresses,
        Action<UdpListenerBuilder> transport,
        RelayOptions options,
        RelayXdpOptions? xdpOptions,
        RelayReporting reporting,
        IReloadable? configReload,
        LogLevel logLevel,
        CancellationToken cancellationToken)
    {
        // Bound first: a taken metrics port is the operator's to fix before the relay takes its own ports.
        var liveness = new LivenessChecks();
        MetricsEndpoint? metrics = null;
        if (reporting.Metrics is { } metricsAddress)
        {
            try
            {
                metrics = await MetricsEndpoint.StartAsync(metricsAddress, "relay", liveness, cancellationToken).ConfigureAwait(false);
            }
            catch (MetricsEndpointException e)
            {
                await Console.Error.WriteLineAsync($"quicpipe relay: {e.Message}").ConfigureAwait(false);
                return 1;
            }
        }

        await using (metrics)
        {
            // The relay stops on SIGINT (this token), SIGTERM (the host's lifetime) or a loop that died (the watcher);
            // the watcher goes before the metrics endpoint, whose /healthz says 503 until then.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await using var watcher = new LoopWatcher("relay", liveness, stop);
            var exitCode = await RunRelayAsync(addresses, transport, options, xdpOptions, reporting, configReload, logLevel, liveness, stop, new ServiceNotifier()).ConfigureAwait(false);
            return watcher.ExitCode(exitCode);
        }
    }

    private static async Task<int> RunRelayAsync(
        IReadOnlyList<PeerAddress> addresses,
        Action<UdpListenerBuilder> transport,
        RelayOptions options,
        RelayXdpOptions? xdpOptions,
        RelayReporting reporting,
        IReloadable? configReload,
        LogLevel logLevel,
        LivenessChecks liveness,
        CancellationTokenSource stop,
        ServiceNotifier notifier)
    {
        var cancellationToken = stop.Token;

        // stdout is for data (later commands pipe it); every log line goes to stderr, as for the peer commands.
        using var loggers = PeerCommandOptions.CreateLoggers(logLevel);
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(loggers);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));

        RelayRouter relay;
        QuicPipeServer server;
        XdpOffloadService? offload = null;
        try
        {
            relay = new RelayRouter(options, loggers);

            // One listener over every address: one relay, one route table, with the offload beside it. UseRelay is
            // the relay's stages and control handler in the order a packet meets them (RelayListenerBuilderExtensions).
            builder.ListenUdp(addresses.Select(a => a.ToEndPoint()), udp =>
            {
                transport(udp);
                udp.UseRelay(relay);
                if (xdpOptions is not null)
                {
                    udp.UseXdpOffload(xdpOptions);
                }
            });
            if (options.RoutesFile is { } routesFile)
            {
                builder.Services.AddSingleton<IReloadable>(new RoutesFileReload(relay, routesFile));
            }

            if (options.AllowList is not null)
            {
                builder.Services.AddSingleton<IReloadable>(new AllowListReload(relay));
            }

            if (configReload is not null)
            {
                builder.Services.AddSingleton(configReload);
            }

            builder.Services.AddHostedService<RelayHostedService>(sp => ActivatorUtilities.CreateInstance<RelayHostedService>(sp, relay));
            if (reporting.StatsInterval > TimeSpan.Zero)
            {
                builder.Services.AddHostedService(_ => new StatsReporter(() => relay.Snapshot() with { Xdp = offload?.Snapshot() }, reporting.StatsInterval, reporting.StatsFormat));
            }

            server = builder.Build();
        }
        catch (ArgumentException e)
        {
            // Options the relay refuses before anything is bound.
            await Console.Error.WriteLineAsync($"quicpipe relay: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        await using (server)
        {
            offload = server.Listeners[0].Features.Get<XdpOffloadService>();

            // The relay binds and loads its routes before the host's services start, so a bad flag or file is
            // one clear line and exit code 2.
            try
            {
                await server.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RouteFileException or UdpSocketException or XdpOffloadException)
            {
                // A port another process holds is a conflict at run time, as for a TCP server (exit 1); the rest are
                // flags or files to fix (exit 2).
                await Console.Error.WriteLineAsync($"quicpipe relay: {e.Message}").ConfigureAwait(false);
                return e is UdpSocketException { AddressInUse: true } ? 1 : 2;
            }

            liveness.Add(server);

            // Serving now: the sockets are bound, the routes loaded and "Relay running" logged. SIGTERM reaches the
            // host's lifetime, SIGINT and the loop watcher the stop token: each is the start of the shutdown.
            using var hostStopping = server.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(stop.Cancel);
            using var stopping = notifier.StoppingOn(cancellationToken);
            notifier.Ready();
            try
            {
                await server.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped before RunAsync got going (a signal right after start): the server still stops on dispose.
            }

            return 0;
        }
    }

    /// <summary>How the relay reports on itself: the stats line on stderr, and the metrics endpoint if asked for.</summary>
    private sealed record RelayReporting(TimeSpan StatsInterval, StatsFormat StatsFormat, IPEndPoint? Metrics);

    private static Option<string> OnOff(string name, string description)
    {
        var option = new Option<string>(name)
        {
            Description = description + " Used when the kernel supports it.",
            DefaultValueFactory = _ => "on",
            HelpName = "on|off",
        };
        option.AcceptOnlyFromAmong("on", "off");
        return option;
    }

    private static bool IsWildcard(PeerAddress address)
    {
        var ip = address.ToEndPoint().Address;
        return ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any);
    }

    private static PeerAddress? ParseAddress(ArgumentResult result)
    {
        if (PeerAddress.TryParse(result.Tokens[0].Value, out var address, out var error))
        {
            return address;
        }

        result.AddError($"--public-address: {error}");
        return null;
    }

    private static PeerAddress[] ParseAddresses(ArgumentResult result)
    {
        var addresses = new List<PeerAddress>();
        foreach (var token in result.Tokens)
        {
            if (PeerAddress.TryParse(token.Value, out var address, out var error))
            {
                addresses.Add(address);
            }
            else
            {
                result.AddError($"--listen: {error}");
            }
        }

        return [.. addresses];
    }
}
