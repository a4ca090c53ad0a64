using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Protocol;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using QuicPipe.Relay.Internal;

namespace QuicPipe.Relay;

/// <summary>
/// The userspace relay: one <see cref="UdpListener"/> per listen address, all sharing one CID table,
/// each loop running <c>parse header -&gt; look up CID -&gt; forward</c>. Static routes come from a
/// routes file and can be reloaded while packets flow. Route changes are told to every
/// <see cref="IRouteObserver"/>: an offload that forwards in front of the sockets (the XDP handler a server
/// builder puts beside the relay) is one, and the relay knows no more of it than that.
/// Packets that end at the relay itself (a relay-namespace CID no route claims) go to the control service: a
/// QUIC endpoint on each listener's own socket, where peers register their CIDs and signal each other.
/// </summary>
public sealed class RelayServer : IDisposable
{
    private const ulong StaticRouteOwner = 0;

    private readonly RelayOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly List<UdpListener> _listeners = [];
    private readonly Lock _routesLock = new();
    private readonly Stopwatch _uptime = new();
    private readonly RouteObserverSet _observers = new();
    private readonly List<(UdpListener Listener, LocalHandlerSlot Slot)> _controlSlots = [];
    private readonly List<QuicEndpoint> _controlEndpoints = [];
    private readonly List<Task> _controlTasks = [];

    // Control endpoints being disposed (each closes its duplicate of a listener socket): a stop that runs out of time
    // leaves them here, and Dispose waits for them, so that once it returns the relay's port is free.
    private readonly List<Task> _controlDisposals = [];

    // How long Dispose waits for those: a loop thread returns within a receive timeout of being told to stop.
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _controlStop = new();
    private readonly NodeIdentity _identity;
    private readonly CidRegistry _registry;
    private readonly RelayControlService _control;
    private HashSet<ConnectionId> _staticCids = [];

    public RelayServer(RelayOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("QuicPipe.Relay");
        Table = new CidTable(options.TableCapacity);
        _identity = options.Identity ?? NodeIdentity.Generate();

        // Registered CIDs are the relay's short-header CID length: one setting, not two that could disagree.
        options.Registry.CidLength = options.CidLength;

        // The registry tells route changes to the same observers as static routes. The set, not a copy of
        // its members: an offload joins it after the relay has started, long after the registry exists.
        _registry = new CidRegistry(Table, options.Registry, [_observers]);
        _control = new RelayControlService(_registry, options.Control, _loggerFactory.CreateLogger("QuicPipe.Relay.Control"));
    }

    public CidTable Table { get; }

    /// <summary>The relay's NodeId: what peers pin with <c>--relay-id</c>.</summary>
    public NodeId NodeId => _identity.NodeId;

    /// <summary>True when the identity was generated at start (no key file).</summary>
    public bool IdentityIsEphemeral => _options.Identity is null;

    /// <summary>The CID registry behind the control service.</summary>
    public CidRegistry Registry => _registry;

    /// <summary>The control service, one for every listener's control endpoint (tests read its maintenance counters).</summary>
    internal RelayControlService Control => _control;

    /// <summary>Length of the destination CID in short-header packets, as configured.</summary>
    public int CidLength => _options.CidLength;

    /// <summary>The bound addresses, in the order of <see cref="RelayOptions.Listen"/> (ephemeral ports resolved).</summary>
    public IReadOnlyList<PeerAddress> LocalAddresses => _listeners.Select(l => l.LocalAddress).ToArray();

    public bool GsoActive => _listeners.Count > 0 && _listeners.All(l => l.GsoActive);

    public bool GroActive => _listeners.Count > 0 && _listeners.All(l => l.GroActive);

    /// <summary>
    /// Adds something to tell about route changes. Added before <see cref="Start"/>, it sees every route; added
    /// later, it must read the routes already in <see cref="Table"/> after adding itself (changes from then on are told).
    /// </summary>
    public void AddRouteObserver(IRouteObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers.Add(observer);
    }

    /// <summary>
    /// Stops telling <paramref name="observer"/> about changes. A notification already under way on another
    /// thread may still reach it once, so an observer that goes away must ignore calls after its end.
    /// </summary>
    public void RemoveRouteObserver(IRouteObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers.Remove(observer);
    }

    /// <summary>
    /// Checks the routes file, binds every listen address, installs the routes and starts the control service.
    /// Throws <see cref="RouteFileException"/> or <see cref="UdpSocketException"/>, leaving nothing open.
    /// </summary>
    public void Start()
    {
        if (_listeners.Count > 0)
        {
            throw new InvalidOperationException("The relay is already started.");
        }

        // Read the file before binding anything, so a typo fails fast and leaves no socket behind.
        var routes = _options.RoutesFile is null ? null : RouteFile.Load(_options.RoutesFile, _options.CidLength);
        IEnumerable<PeerAddress> listen = _options.Listen.Count > 0 ? _options.Listen : RelayOptions.DefaultListen;
        try
        {
            foreach (var address in listen)
            {
                var slot = new LocalHandlerSlot();
                var listener = new UdpListener(
                    new UdpListenerOptions
                    {
                        Address = address,
                        Threads = _options.Threads,
                        BatchSize = _options.BatchSize,
                        SlotSize = _options.SlotSize,
                        Socket = _options.Socket,
                    },
                    pipeline => pipeline
                        .UseQuicHeaderParsing(_options.CidLength)
                        .Use(next => new RelayControlDeliveryStage(next, Table, slot).Invoke)
                        .UseRelayForwarding(Table, _registry.RouteUseSink),
                    _loggerFactory.CreateLogger<UdpListener>());
                _listeners.Add(listener);
                _controlSlots.Add((listener, slot));
                listener.Start();
            }

            // Checked against the bound addresses: a route to the relay itself would loop.
            if (routes is not null)
            {
                ApplyRoutes(routes, _options.RoutesFile!);
            }

            StartControlService();
        }
        catch
        {
            StopControlService(TimeSpan.FromSeconds(1));
            DisposeListeners();
            throw;
        }

        _uptime.Start();
    }

    /// <summary>
    /// Reads the routes file again and makes the table match it. The file is checked whole first: on
    /// any error the old routes stay and <see cref="RouteFileException"/> says what is wrong.
    /// </summary>
    public int ReloadRoutes()
    {
        var path = _options.RoutesFile ?? throw new InvalidOperationException("The relay was started without a routes file.");
        var routes = RouteFile.Load(path, _options.CidLength);
        ApplyRoutes(routes, path);
        return routes.Count;
    }

    private void ApplyRoutes(IReadOnlyList<StaticRoute> routes, string path)
    {
        lock (_routesLock)
        {
            if (routes.Count > Table.Capacity)
            {
                throw new RouteFileException($"{path}: {routes.Count} routes do not fit the table's {Table.Capacity} entries (raise --table-capacity)");
            }

            // Read once per load, and only if a wildcard listener shares a route's port: a large file
            // of peers on the relay's port would otherwise enumerate the interfaces once per route.
            var interfaceAddresses = new Lazy<HashSet<IPAddress>>(InterfaceAddresses);
            foreach (var route in routes)
            {
                if (IsThisRelay(route.Endpoint, interfaceAddresses))
                {
                    throw new RouteFileException($"{path}:{route.Line}: {route.Endpoint} is this relay's own address; forwarding there would loop");
                }
            }

            var next = new HashSet<ConnectionId>(routes.Count);
            var set = new (ConnectionId Cid, PeerAddress Endpoint)[routes.Count];
            for (var i = 0; i < routes.Count; i++)
            {
                var route = routes[i];
                Table.Set(route.Cid, new CidRoute(route.Endpoint, StaticRouteOwner, long.MaxValue));
                next.Add(route.Cid);
                set[i] = (route.Cid, route.Endpoint);
            }

            var removed = new List<ConnectionId>();
            foreach (var stale in _staticCids)
            {
                if (!next.Contains(stale))
                {
                    Table.Remove(stale);
                    removed.Add(stale);
                }
            }

            _staticCids = next;

            // Told after the table holds the change: an observer checking the table sees the new state.
            _observers.OnRoutesSet(set);
            _observers.OnRoutesRemoved(CollectionsMarshal.AsSpan(removed));
        }

        _logger.LogInformation("Loaded {Count} static route(s) from {Path}", routes.Count, path);
    }

    public RelayStats Snapshot()
    {
        var packets = new DataplaneCounters();
        foreach (var listener in _listeners)
        {
            listener.CollectCounters(packets);
        }

        int staticRoutes;
        lock (_routesLock)
        {
            staticRoutes = _staticCids.Count;
        }

        return new RelayStats
        {
            Packets = packets,
            Routes = Table.Count,
            StaticRoutes = staticRoutes,
            Evictions = Table.Evictions,
            Uptime = _uptime.Elapsed,
            Gen0Collections = GC.CollectionCount(0),
            Gen1Collections = GC.CollectionCount(1),
            Gen2Collections = GC.CollectionCount(2),
            AllocatedBytes = GC.GetTotalAllocatedBytes(precise: false),
            Control = _control.Snapshot(),
        };
    }

    /// <summary>Stops the control service and every receive loop; returns false if one did not stop within <paramref name="timeout"/>.</summary>
    public bool Stop(TimeSpan timeout)
    {
        var elapsed = Stopwatch.StartNew();
        var stopped = StopControlService(timeout);
        foreach (var listener in _listeners)
        {
            var left = timeout - elapsed.Elapsed;
            stopped &= listener.Stop(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }

        return stopped;
    }

    /// <summary>Stops the control service and closes every socket.</summary>
    public void Dispose()
    {
        StopControlService(TimeSpan.FromSeconds(1));

        // Whatever a slow stop left: a control endpoint's socket still open would keep the port bound.
        Task.WhenAll(_controlDisposals).Wait(DisposeWait);
        DisposeListeners();
        _controlStop.Dispose();
    }

    /// <summary>
    /// One control endpoint per listener, on the listener's own socket (a sending duplicate; the listener's
    /// loops hand it the packets addressed to the relay), all served by one control service and registry.
    /// </summary>
    private void StartControlService()
    {
        var endpointOptions = new QuicEndpointOptions
        {
            Identity = _identity,
            AcceptIncoming = true,
            AllowAnyClient = true,
            ServerAlpn = RelayProtocol.Alpn,
            ConnectionIdLength = _options.CidLength,
            ConnectionIdGenerator = RelayConnectionId,
        };
        foreach (var (listener, slot) in _controlSlots)
        {
            var shared = new QuicSharedSocket(listener.DuplicateSocketForSending());
            var endpoint = QuicEndpoint.Attach(shared, endpointOptions);
            _controlEndpoints.Add(endpoint);
            slot.Socket = shared;
            _controlTasks.Add(_control.RunAsync(endpoint, _controlStop.Token));
        }

        _logger.LogInformation(
            "Control service on every listener (ALPN {Alpn}); relay NodeId {NodeId}{Ephemeral}",
            RelayProtocol.Alpn,
            NodeId,
            IdentityIsEphemeral ? " (generated for this run: give --key FILE to keep it across restarts)" : string.Empty);
    }

    private bool StopControlService(TimeSpan timeout)
    {
        if (_controlEndpoints.Count == 0)
        {
            return _controlDisposals.All(d => d.IsCompleted);
        }

        foreach (var (_, slot) in _controlSlots)
        {
            slot.Socket = null;
        }

        _controlStop.Cancel();
        var elapsed = Stopwatch.StartNew();
        var stopped = Task.WhenAll(_controlTasks).Wait(timeout);
        foreach (var endpoint in _controlEndpoints)
        {
            _controlDisposals.Add(endpoint.DisposeAsync().AsTask());
        }

        _controlEndpoints.Clear();
        _controlTasks.Clear();
        var left = timeout - elapsed.Elapsed;
        return Task.WhenAll(_controlDisposals).Wait(left > TimeSpan.Zero ? left : TimeSpan.Zero) && stopped;
    }

    /// <summary>The control endpoint's own CIDs: random, in the relay namespace, so the listeners hand them over.</summary>
    private static ConnectionId RelayConnectionId(int length)
    {
        Span<byte> bytes = stackalloc byte[length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        bytes[0] |= 0x80;
        return new ConnectionId(bytes);
    }

    private void DisposeListeners()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        _listeners.Clear();
    }

    private bool IsThisRelay(PeerAddress endpoint, Lazy<HashSet<IPAddress>> interfaceAddresses)
    {
        foreach (var listener in _listeners)
        {
            var local = listener.LocalAddress;
            if (local.Port != endpoint.Port || local.RawFamily != endpoint.RawFamily)
            {
                continue;
            }

            if (local.Equals(endpoint))
            {
                return true;
            }

            var localIp = local.ToEndPoint().Address;
            if ((localIp.Equals(IPAddress.Any) || localIp.Equals(IPAddress.IPv6Any)) && IsLocalAddress(endpoint.ToEndPoint().Address, interfaceAddresses))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsLocalAddress(IPAddress address, Lazy<HashSet<IPAddress>> interfaceAddresses) =>
        IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ||
        interfaceAddresses.Value.Contains(address);

    private static HashSet<IPAddress> InterfaceAddresses() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .ToHashSet();
}
