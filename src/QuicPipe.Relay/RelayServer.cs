using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;

namespace QuicPipe.Relay;

/// <summary>
/// A relay alone on a server of its own, for tests, benchmarks and programs that want nothing else: one UDP listener
/// over <see cref="RelayServerOptions.Listen"/> (or the default addresses), served as the options say
/// (threads, batch, socket options), composed with <see cref="RelayListenerBuilderExtensions.UseRelay"/>. A program
/// that runs more than a relay composes the same through <see cref="QuicPipeServer.CreateBuilder(string[])"/> itself,
/// as <c>quicpipe relay</c> does.
/// </summary>
public sealed class RelayServer : IDisposable
{
    private readonly RelayServerOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private QuicPipeServer? _server;

    public RelayServer(RelayServerOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Router = new RelayRouter(options, _loggerFactory);
    }

    /// <summary>The relay's routing state: table, registry, control service, static routes.</summary>
    public RelayRouter Router { get; }

    public CidTable Table => Router.Table;

    public NodeId NodeId => Router.NodeId;

    public CidRegistry Registry => Router.Registry;

    internal RelayControlService Control => Router.Control;

    /// <summary>The bound addresses, in the order of <see cref="RelayServerOptions.Listen"/> (ephemeral ports resolved).</summary>
    public IReadOnlyList<PeerAddress> LocalAddresses => Router.LocalAddresses;

    public bool GsoActive => Transport?.GsoActive ?? false;

    public bool GroActive => Transport?.GroActive ?? false;

    private UdpTransport? Transport => _server?.Listeners[0].Features.Get<UdpTransport>();

    public int ReloadRoutes() => Router.ReloadRoutes();

    public RelayStats Snapshot() => Router.Snapshot();

    /// <summary>
    /// Binds every listen address, loads the routes and starts the control service and the receive loops. Throws
    /// <see cref="RouteFileException"/> or <see cref="UdpSocketException"/>, leaving nothing open.
    /// </summary>
    public void Start()
    {
        if (_server is not null)
        {
            throw new InvalidOperationException("The relay is already started.");
        }

        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(_loggerFactory);
        IEnumerable<PeerAddress> listen = _options.Listen.Count > 0 ? _options.Listen : RelayOptions.DefaultListen;
        builder.ListenUdp(listen.Select(a => a.ToEndPoint()), udp =>
        {
            udp.Threads = _options.Threads;
            udp.BatchSize = _options.BatchSize;
            udp.SlotSize = _options.SlotSize;
            udp.Socket = _options.Socket;
            udp.UseRelay(Router);
        });
        var server = builder.Build();
        try
        {
            server.StartAsync().GetAwaiter().GetResult();
        }
        catch
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        _server = server;
    }

    /// <summary>Stops the control service and every receive loop; returns false if that took longer than <paramref name="timeout"/>.</summary>
    public bool Stop(TimeSpan timeout) => _server is null || _server.StopAsync().Wait(timeout);

    /// <summary>Stops, then closes every socket: once it returns the ports are free.</summary>
    public void Dispose()
    {
        _server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
