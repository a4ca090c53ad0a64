using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// One listener of a running <see cref="QuicPipeServer"/>, as its stages, handlers, services and the application
/// see it. They find each other through <see cref="Features"/>: the bound transport (<see cref="UdpTransport"/>),
/// a QUIC endpoint on it, the relay whose routes the XDP offload mirrors, a proxy's address and counters.
/// </summary>
public sealed class ListenerContext
{
    internal ListenerContext(ListenerTransport transport, IReadOnlyList<IPEndPoint> endpoints, IServiceProvider services)
    {
        Transport = transport;
        Endpoints = endpoints;
        Services = services;
    }

    public ListenerTransport Transport { get; }

    /// <summary>The addresses the listener serves, as configured (bound ports are in the transport's feature).</summary>
    public IReadOnlyList<IPEndPoint> Endpoints { get; }

    /// <summary>The server's services (logging, options, whatever the application registered).</summary>
    public IServiceProvider Services { get; }

    public ILoggerFactory LoggerFactory => Services.GetRequiredService<ILoggerFactory>();

    /// <summary>What the server and the listener's services publish, by type.</summary>
    public IFeatureCollection Features { get; } = new FeatureCollection();

    /// <summary>For error messages and logs: <c>udp 0.0.0.0:4433, [::]:4433</c>.</summary>
    public override string ToString() => Transport switch
    {
        ListenerTransport.Udp => $"udp {string.Join(", ", Endpoints.Select(e => e.ToString()))}",
        ListenerTransport.Tcp => $"tcp {string.Join(", ", Endpoints.Select(e => e.ToString()))}",
        _ => $"tun {Features.Get<TunTransport>()?.Name ?? "(not created yet)"}",
    };
}
