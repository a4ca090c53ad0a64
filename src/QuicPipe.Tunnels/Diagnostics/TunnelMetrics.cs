using System.Diagnostics.Metrics;

namespace QuicPipe.Tunnels.Diagnostics;

/// <summary>
/// The tunnels and proxies of one process as the instruments of meter <see cref="MeterName"/>. A process runs several
/// (an HTTP and a SOCKS5 proxy side by side, a forwarder whose server comes and goes), so this is one meter that the
/// handlers are added to as they start, not a meter per handler: one instrument name then has one meaning, with the
/// handler's kind as a tag. Each collection reads the handlers' own counters.
/// </summary>
public sealed class TunnelMetrics : IDisposable
{
    public const string MeterName = "QuicPipe.Tunnels";

    private static readonly KeyValuePair<string, object?>[] Tunnelled = [new("outcome", "tunnelled")];
    private static readonly KeyValuePair<string, object?>[] Refused = [new("outcome", "refused")];
    private static readonly KeyValuePair<string, object?>[] Served = [new("outcome", "served")];
    private static readonly KeyValuePair<string, object?>[] Rejected = [new("outcome", "rejected")];

    private readonly Meter _meter = new(MeterName);
    private readonly Lock _lock = new();
    private readonly List<TcpForwarder> _forwarders = [];
    private readonly List<TcpExposer> _exposers = [];
    private readonly List<(PeerProxy Proxy, KeyValuePair<string, object?>[] Tunnelled, KeyValuePair<string, object?>[] Failed)> _proxies = [];

    public TunnelMetrics()
    {
        _meter.CreateObservableCounter("quicpipe.tunnels.forward.connections", ForwardConnections, "{connection}", "Local TCP connections of `forward`, by outcome: tunnelled, or refused by the peer.");
        _meter.CreateObservableCounter("quicpipe.tunnels.expose.streams", ExposeStreams, "{stream}", "Tunnel streams `expose` took from peers, by outcome: served, or rejected (port or peer not allowed, target refused).");
        _meter.CreateObservableGauge("quicpipe.tunnels.expose.active", () => Sum(_exposers, e => e.ActiveTunnels), "{stream}", "Tunnel streams `expose` is handling now.");
        _meter.CreateObservableCounter("quicpipe.tunnels.proxy.requests", ProxyRequests, "{request}", "Proxy requests by protocol (http, socks5) and outcome: tunnelled, or failed (an error answer, or a client that left early).");
    }

    /// <summary>The meter (tests listen to these instruments alone).</summary>
    public Meter Meter => _meter;

    public void Add(TcpForwarder forwarder)
    {
        ArgumentNullException.ThrowIfNull(forwarder);
        lock (_lock)
        {
            _forwarders.Add(forwarder);
        }
    }

    public void Add(TcpExposer exposer)
    {
        ArgumentNullException.ThrowIfNull(exposer);
        lock (_lock)
        {
            _exposers.Add(exposer);
        }
    }

    /// <summary>Adds an HTTP CONNECT or SOCKS5 proxy; its requests carry the tag <c>protocol</c> = http or socks5.</summary>
    public void Add(PeerProxy proxy)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        var protocol = new KeyValuePair<string, object?>("protocol", proxy is Socks5Proxy ? "socks5" : "http");
        lock (_lock)
        {
            _proxies.Add((proxy, [protocol, Tunnelled[0]], [protocol, new("outcome", "failed")]));
        }
    }

    public void Dispose() => _meter.Dispose();

    private Measurement<long>[] ForwardConnections()
    {
        lock (_lock)
        {
            return
            [
                new(_forwarders.Sum(f => f.TunnelledConnections), Tunnelled),
                new(_forwarders.Sum(f => f.RefusedConnections), Refused),
            ];
        }
    }

    private Measurement<long>[] ExposeStreams()
    {
        lock (_lock)
        {
            var rejected = _exposers.Sum(e => e.RejectedTunnels);
            return
            [
                new(_exposers.Sum(e => e.TunnelStreams) - rejected, Served),
                new(rejected, Rejected),
            ];
        }
    }

    private Measurement<long>[] ProxyRequests()
    {
        lock (_lock)
        {
            var measurements = new List<Measurement<long>>(_proxies.Count * 2);
            foreach (var (proxy, tunnelled, failed) in _proxies)
            {
                measurements.Add(new(proxy.TunnelledConnections, tunnelled));
                measurements.Add(new(proxy.FailedRequests, failed));
            }

            return [.. measurements];
        }
    }

    private int Sum<T>(List<T> handlers, Func<T, int> read)
    {
        lock (_lock)
        {
            return handlers.Sum(read);
        }
    }
}
