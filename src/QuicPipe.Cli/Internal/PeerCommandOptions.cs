using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Mesh;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The flags every peer-side command takes (<c>dial</c>, <c>accept</c>, <c>forward</c>, <c>expose</c>), and what they
/// build. Flags only the netcat-like commands understand live in <see cref="NetcatOptions"/>.
/// </summary>
internal sealed class PeerCommandOptions
{
    // The QUIC idle timeout of peer connections (PeerEndpointOptions.IdleTimeout), unless --peer-timeout is longer.
    private static readonly TimeSpan QuicIdleTimeout = TimeSpan.FromSeconds(30);

    public Option<IPEndPoint[]> Relay { get; } = new("--relay")
    {
        Description = "A relay's UDP address, HOST:PORT or [IPv6]:PORT. Repeat it to register with several relays (each once): dials go through the first, in the order given, that knows the peer, and a connection whose relay is lost moves to another the peer is registered at.",
        HelpName = "ADDR:PORT",
        Required = true,
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
        CustomParser = ParseEndPoints,
    };

    public Option<FileInfo> Key { get; } = new("--key")
    {
        Description = "This node's identity file (make one with 'quicpipe keygen --out FILE').",
        HelpName = "FILE",
        Required = true,
    };

    public Option<NodeId[]> RelayId { get; } = new("--relay-id")
    {
        Description = "The relay's NodeId to pin; with several --relay, one per relay in the same order. Without it each relay is trusted when first met (and a warning says which NodeId to pin).",
        HelpName = "NODEID",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
        CustomParser = result => ParseNodeIds(result, "--relay-id"),
    };

    public Option<int> CidLength { get; } = CliOptions.Int("--cid-length", "CID length; must match the relay's --cid-length.", 12, 8, ConnectionId.MaxLength, "BYTES");

    public Option<Duration> Timeout { get; } = CliOptions.Duration("--timeout", "How long reaching the relay, and then the peer, may take before giving up.", TimeSpan.FromSeconds(10));

    public Option<Duration> PeerTimeout { get; } = CreatePeerTimeout();

    public Option<bool> RelayOnly { get; } = new("--relay-only")
    {
        Description = "Keep connections on the relay: no hole punching, no direct path (by default a connection starts relayed and moves to a direct path when both NATs allow it).",
    };

    public Option<Duration> DirectRetry { get; } = CliOptions.Duration("--direct-retry", "While a connection is relayed (no direct path found, or it failed), how often to look for one again. The first look after a direct path failed comes sooner, after 3 s (or this, if shorter): a NAT that rebound is found again at its new address.", TimeSpan.FromSeconds(30));

    public Option<NodeId[]> Neighbors { get; } = new("--neighbor")
    {
        Description = "A mesh neighbour: this node keeps a link to it (through the relay, direct when possible; it must list this node too) and carries circuits for and through it. Repeat for several.",
        HelpName = "NODEID",
        Arity = ArgumentArity.ZeroOrMore,
        CustomParser = result => ParseNodeIds(result, "--neighbor"),
    };

    public Option<bool> NoCircuit { get; } = new("--no-circuit")
    {
        Description = "When the relay does not know the target, fail instead of building a circuit through the neighbours.",
    };

    public Option<bool> EncryptedHops { get; } = new("--encrypted-hops")
    {
        Description = "Send circuit cells inside each neighbour link's encryption, so that someone watching two links cannot match a cell on one to the same cell on the other; costs about twice the CPU per byte at every node. By default cells cross each link as the relay forwards packets, switched by label, still encrypted end to end.",
    };

    public Option<LogLevel> LogLevel { get; } = new("--log-level")
    {
        Description = "Least severe log messages shown (on stderr).",
        HelpName = "LEVEL",
        DefaultValueFactory = _ => Microsoft.Extensions.Logging.LogLevel.Warning,
    };

    /// <summary><c>--metrics [BIND:]PORT</c>, for the commands that run until stopped (not <c>dial</c>).</summary>
    public Option<IPEndPoint?> Metrics { get; } = MetricsOption.Create();

    public void AddTo(Command command, bool metrics = true)
    {
        CliOptions.AddValidator(command, result =>
        {
            var relays = result.GetValue(Relay) ?? [];
            var ids = result.GetValue(RelayId) ?? [];
            if (ids.Length != 0 && ids.Length != relays.Length)
            {
                result.AddError($"--relay-id: {ids.Length} given for {relays.Length} relays (--relay): give one per relay, in the same order, or none.");
            }
        });
        command.Options.Add(Relay);
        command.Options.Add(Key);
        command.Options.Add(RelayId);
        command.Options.Add(CidLength);
        command.Options.Add(Timeout);
        command.Options.Add(PeerTimeout);
        command.Options.Add(RelayOnly);
        command.Options.Add(DirectRetry);
        command.Options.Add(Neighbors);
        command.Options.Add(NoCircuit);
        command.Options.Add(EncryptedHops);
        command.Options.Add(LogLevel);
        if (metrics)
        {
            command.Options.Add(Metrics);
        }
    }

    /// <summary>Builds the endpoint options; an unreadable key file is a <see cref="PeerException"/> naming it.</summary>
    public PeerEndpointOptions Build(ParseResult parse, ILoggerFactory loggers)
    {
        var keyFile = parse.GetRequiredValue(Key);
        NodeIdentity identity;
        try
        {
            identity = NodeIdentity.LoadKeyFile(keyFile.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new PeerException($"cannot load the key file: {e.Message}", e);
        }

        var timeout = parse.GetValue(Timeout);
        TimeSpan peerTimeout = parse.GetValue(PeerTimeout);
        var options = new PeerEndpointOptions
        {
            Identity = identity,
            CidLength = parse.GetValue(CidLength),
            DialTimeout = timeout,
            HandshakeTimeout = timeout,

            // Four keep-alives per timeout: a live peer answers several before it runs out, even with one or two lost.
            // The QUIC idle timeout stays long (it bounds only dead paths): a relay that restarts stalls a connection
            // without ending it, while the peer timeout finds a dead peer behind a live path.
            PeerTimeout = peerTimeout,
            KeepAliveInterval = peerTimeout / 4,
            IdleTimeout = peerTimeout > QuicIdleTimeout ? peerTimeout : QuicIdleTimeout,
            DirectPaths = !parse.GetValue(RelayOnly),
            DirectRetryInterval = parse.GetValue(DirectRetry),
            LoggerFactory = loggers,
        };
        var ids = parse.GetValue(RelayId) ?? [];
        var relays = parse.GetRequiredValue(Relay);
        for (var i = 0; i < relays.Length; i++)
        {
            options.Relays.Add(new PeerRelay(relays[i], ids.Length > i ? ids[i] : null));
        }

        if (parse.GetValue(Neighbors) is { Length: > 0 } neighbors)
        {
            if (neighbors.Contains(identity.NodeId))
            {
                throw new ArgumentException($"--neighbor: {identity.NodeId} is this node's own NodeId (its --key); a node is not its own neighbour.");
            }

            MeshProtocol.AllowNeighbors(options, neighbors);
        }

        return options;
    }

    /// <summary>
    /// Builds, configures and checks the endpoint options for <paramref name="command"/>. A bad key file or option is
    /// one line on stderr and null: the caller exits 2 (bad flags), before anything is bound.
    /// </summary>
    public PeerEndpointOptions? BuildOrReport(string command, ParseResult parse, ILoggerFactory loggers, Action<PeerEndpointOptions> configure)
    {
        try
        {
            var options = Build(parse, loggers);
            configure(options);
            options.Validate();
            return options;
        }
        catch (Exception e) when (e is PeerException or ArgumentException)
        {
            Console.Error.WriteLine($"quicpipe {command}: {e.Message}");
            return null;
        }
    }

    public static ILoggerFactory CreateLoggers(LogLevel level) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(level);

        // The host's own start-up lines (environment, content root, "press Ctrl+C") say nothing useful about a
        // relay or a peer: every command runs on a server builder's host.
        builder.AddFilter("Microsoft.Hosting.Lifetime", Microsoft.Extensions.Logging.LogLevel.Warning);
        ConsoleLogFormat.AddTo(builder);
    });

    public static NodeId? ParseNodeId(ArgumentResult result, string name) =>
        ParseNodeIds(result, name) is [var id] ? id : null;

    public static NodeId[] ParseNodeIds(ArgumentResult result, string name)
    {
        var ids = new List<NodeId>();
        foreach (var token in result.Tokens)
        {
            if (NodeId.TryParse(token.Value, out var id))
            {
                ids.Add(id);
            }
            else
            {
                result.AddError($"{name}: '{token.Value}' is not a NodeId (52 base32 characters, as 'quicpipe keygen' prints).");
            }
        }

        return [.. ids];
    }

    private static Option<Duration> CreatePeerTimeout()
    {
        var option = CliOptions.Duration(
            "--peer-timeout",
            "How long a connection to a peer may go without a packet from it, while the path to it is alive, before it is given up: a peer that was killed, or whose host or network went away, is noticed after this and at most an eighth more (keep-alives every quarter of it keep a live one answering). While the relay itself does not answer, the peer's silence is not counted, so a relay restart stalls a transfer without ending it (up to 30 s, the QUIC idle timeout). At least 1s.",
            TimeSpan.FromSeconds(6));
        option.Validators.Add(result =>
        {
            // Only a value that parsed: a malformed one already has its error from the parser.
            if (result.Tokens is [var token] && Duration.TryParse(token.Value, out var value) && value.Value < TimeSpan.FromSeconds(1))
            {
                result.AddError($"--peer-timeout must be at least 1s, not {value}.");
            }
        });
        return option;
    }

    private static IPEndPoint[] ParseEndPoints(ArgumentResult result)
    {
        var relays = new List<IPEndPoint>();
        foreach (var token in result.Tokens)
        {
            if (!PeerAddress.TryParse(token.Value, out var address, out var error))
            {
                result.AddError($"--relay: {error}");
                continue;
            }

            var relay = address.ToEndPoint();
            if (relays.Contains(relay))
            {
                result.AddError($"--relay: {relay} is given twice: list each relay once.");
                continue;
            }

            relays.Add(relay);
        }

        return [.. relays];
    }
}
