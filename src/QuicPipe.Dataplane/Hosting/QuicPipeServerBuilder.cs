using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// Composes a <see cref="QuicPipeServer"/>: listeners, each with its packet stages, connection handlers and
/// services, on top of the generic host's services, configuration and logging (what Kestrel's
/// <c>WebApplicationBuilder</c> is to ASP.NET Core). The server binds every listener's sockets; reading the
/// <c>Listen*</c> calls shows the whole dataplane (docs/server-builder.md):
/// <code>
/// var builder = QuicPipeServer.CreateBuilder(args);
/// var relay = new RelayRouter(new RelayOptions());
/// builder.ListenUdp(4433, udp =&gt; udp.UseRelay(relay).UseXdpOffload("eth0"));
/// builder.ListenTcp(8080, tcp =&gt; tcp.UseHttpProxy(connector));
/// await using var server = builder.Build();
/// await server.RunAsync();
/// </code>
/// </summary>
public sealed class QuicPipeServerBuilder
{
    private readonly HostApplicationBuilder _host;
    private readonly List<ListenerBuilder> _listeners = [];
    private bool _built;

    internal QuicPipeServerBuilder(HostApplicationBuilder host)
    {
        _host = host;
    }

    public IServiceCollection Services => _host.Services;

    public ILoggingBuilder Logging => _host.Logging;

    public IConfigurationManager Configuration => _host.Configuration;

    /// <summary>
    /// Listens on UDP <paramref name="port"/> on every IPv4 and IPv6 address (one socket per family): a relay
    /// serves whoever can reach it, so "a port" means all interfaces here.
    /// </summary>
    public QuicPipeServerBuilder ListenUdp(int port, Action<UdpListenerBuilder> configure)
    {
        IPEndPoint[] any = Socket.OSSupportsIPv6
            ? [new IPEndPoint(IPAddress.Any, port), new IPEndPoint(IPAddress.IPv6Any, port)]
            : [new IPEndPoint(IPAddress.Any, port)];
        return ListenUdp(any, configure);
    }

    public QuicPipeServerBuilder ListenUdp(IPEndPoint endpoint, Action<UdpListenerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return ListenUdp([endpoint], configure);
    }

    /// <summary>
    /// One listener over several UDP addresses: its handlers serve them all as one (a relay over
    /// <c>0.0.0.0:4433</c> and <c>[::]:4433</c> keeps one route table, not two).
    /// </summary>
    public QuicPipeServerBuilder ListenUdp(IEnumerable<IPEndPoint> endpoints, Action<UdpListenerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(configure);
        var list = endpoints.ToArray();
        if (list.Length == 0)
        {
            throw new ArgumentException("A UDP listener needs at least one address.", nameof(endpoints));
        }

        var listener = new UdpListenerBuilder(list);
        configure(listener);
        return Add(listener);
    }

    /// <summary>
    /// Listens on TCP <paramref name="port"/> on 127.0.0.1 only: tunnels and proxies serve local programs and
    /// do not ask who connects, so binding every interface must be asked for with an endpoint.
    /// </summary>
    public QuicPipeServerBuilder ListenTcp(int port, Action<TcpListenerBuilder> configure) =>
        ListenTcp(new IPEndPoint(IPAddress.Loopback, port), configure);

    public QuicPipeServerBuilder ListenTcp(IPEndPoint endpoint, Action<TcpListenerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(configure);
        var listener = new TcpListenerBuilder(endpoint);
        configure(listener);
        return Add(listener);
    }

    /// <summary>
    /// A TUN device the server creates when it starts (its addresses, MTU and routes as <paramref name="device"/> says)
    /// and removes when it stops: IP packets read from it run through the listener's stages in batches, and handlers
    /// write packets into it (<see cref="TunTransport"/>). Creating one needs root or CAP_NET_ADMIN.
    /// </summary>
    public QuicPipeServerBuilder ListenTun(Tun.TunDeviceOptions device, Action<TunListenerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(configure);
        device.Validate();
        var listener = new TunListenerBuilder(device);
        configure(listener);
        if (listener.BatchSize is < 1 or > PacketBatch.MaxCapacity)
        {
            throw new ArgumentOutOfRangeException(nameof(configure), listener.BatchSize, $"A TUN listener's BatchSize is 1 to {PacketBatch.MaxCapacity}.");
        }

        return Add(listener);
    }

    /// <summary>
    /// Builds the host and creates every listener's services, in order; nothing is bound until
    /// <see cref="QuicPipeServer.StartAsync"/>. A service that refuses its configuration throws here, and the
    /// services created before it are disposed.
    /// </summary>
    public QuicPipeServer Build()
    {
        if (_built)
        {
            throw new InvalidOperationException("Build was already called on this builder.");
        }

        _built = true;

        // Hosted services the application registered may need the server (to reach a handler through a
        // listener's features); they are resolved when the host starts, after this assignment.
        QuicPipeServer? server = null;
        _host.Services.AddSingleton(_ => server ?? throw new InvalidOperationException("The server is not built yet."));
        server = QuicPipeServer.Create(_host.Build(), _listeners);
        return server;
    }

    private QuicPipeServerBuilder Add(ListenerBuilder listener)
    {
        if (listener.IsEmpty)
        {
            var where = listener is TunListenerBuilder tun ? $"TUN device {tun.Device.Name}" : string.Join(", ", listener.Endpoints.Select(e => e.ToString()));
            throw new ArgumentException($"The listener on {where} has no stage, handler or service: it would serve nothing.");
        }

        _listeners.Add(listener);
        return this;
    }
}
