using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Vpn.Tests;

/// <summary>
/// A <see cref="VpnRouter"/> on a peer endpoint that is never started: its constructor binds and connects nothing,
/// so a dial fails at once ("Not connected to relay") without a packet leaving the process. The router's logs are
/// kept, so a test sees which peer was dialled and how often.
/// </summary>
internal sealed class TestVpn : IAsyncDisposable
{
    private TestVpn(PeerEndpoint endpoint, VpnRouter router, RecordingLoggers loggers)
    {
        Endpoint = endpoint;
        Router = router;
        Loggers = loggers;
    }

    public PeerEndpoint Endpoint { get; }

    public VpnRouter Router { get; }

    public RecordingLoggers Loggers { get; }

    public VpnCounters Counters => Router.Counters;

    /// <summary>The warnings of failed dials, each naming the peer.</summary>
    public IReadOnlyList<string> DialFailures => [.. Loggers.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.StartsWith("vpn: dialing ", StringComparison.Ordinal)).Select(e => e.Message)];

    /// <summary>A router over <paramref name="peers"/> (NodeId, prefixes); <paramref name="configure"/> adjusts its options.</summary>
    public static TestVpn Create(IEnumerable<(NodeId Peer, string[] Prefixes)> peers, Action<VpnOptions>? configure = null)
    {
        var endpoint = new PeerEndpoint(new PeerEndpointOptions
        {
            Identity = NodeIdentity.Generate(),
            Relay = IPEndPoint.Parse("127.0.0.1:9"),
            DialTimeout = TimeSpan.FromSeconds(2),
        });
        var options = new VpnOptions();
        foreach (var (peer, prefixes) in peers)
        {
            options.Peers.Add(new VpnPeerOptions(peer, [.. prefixes.Select(IpPrefix.Parse)]));
        }

        configure?.Invoke(options);
        var loggers = new RecordingLoggers();
        return new TestVpn(endpoint, new VpnRouter(endpoint, options, loggers), loggers);
    }

    public static NodeId NewPeer() => NodeIdentity.Generate().NodeId;

    /// <summary>The three stages in the order <c>UseVpn</c> composes them, ending in <paramref name="terminal"/>.</summary>
    public PacketDelegate Pipeline(PacketDelegate? terminal = null) =>
        new PipelineBuilder()
            .UseIpRouting(Router)
            .UsePeerMtu(Router)
            .UsePeerDelivery(Router)
            .Run(terminal ?? (_ => { }))
            .Build();

    public static PacketBatch Batch(params byte[][] packets)
    {
        var batch = new PacketBatch(Math.Max(1, packets.Length));
        foreach (var packet in packets)
        {
            batch.Add(packet, default);
        }

        return batch;
    }

    public async ValueTask DisposeAsync()
    {
        await Router.DisposeAsync();
        await Endpoint.DisposeAsync();
        Loggers.Dispose();
    }
}

/// <summary>Keeps every formatted log line of every logger it makes.</summary>
internal sealed class RecordingLoggers : ILoggerFactory
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggers owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
