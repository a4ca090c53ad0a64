using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Protocol;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using QuicPipe.Relay.Diagnostics;
using QuicPipe.Relay.Fleet;
using QuicPipe.Relay.Fleet.Internal;
using QuicPipe.Relay.Internal;

namespace QuicPipe.Relay;

/// <summary>
/// A relay's state, which the stages and handlers that <see cref="RelayListenerBuilderExtensions.UseRelay"/> puts on
/// a UDP listener share: the CID table every receive loop forwards by, the static routes from a routes file (reloaded
/// while packets flow), the CID registry and the control service that peers register with. It binds nothing: the
/// server owns the sockets. Route changes are told to every <see cref="IRouteObserver"/>: an offload that forwards
/// in front of the sockets (the XDP offload beside the relay on the same listener) is one, and the relay knows no
/// more of it than that. A relay serves one listener (any number of addresses, one route table).
/// </summary>
public sealed class RelayRouter
{
    private const ulong StaticRouteOwner = 0;

    private readonly RelayOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _routesLock = new();
    private readonly Stopwatch _uptime = new();
    private readonly RouteObserverSet _observers = new();
    private readonly NodeIdentity _identity;
    private HashSet<ConnectionId> _staticCids = [];
    private UdpTransport? _transport;
    private readonly ILoggerFactory _loggerFactory;

    // The relay's membership of its fleet (RelayOptions.Directory), from its start to its stop.
    private FleetMembership? _fleet;

    // The relay's instruments, from its start on a listener to its stop.
    private RelayForwardingMetrics? _forwardingMetrics;
    private RelayControlMetrics? _controlMetrics;

    public RelayRouter(RelayOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        loggerFactory ??= NullLoggerFactory.Instance;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("QuicPipe.Relay");
        Table = new CidTable(options.TableCapacity);
        _identity = options.Identity ?? NodeIdentity.Generate();

        // Registered CIDs are the relay's short-header CID length: one setting, not two that could disagree. A copy,
        // so that the caller's options stay as the caller made them.
        var registry = options.Registry.Clone();
        registry.CidLength = options.CidLength;

        // The registry tells route changes to the same observers as static routes. The set, not a copy of
        // its members: an offload joins it after the relay has started, long after the registry exists.
        Registry = new CidRegistry(Table, registry, [_observers]);
        Control = new RelayControlService(Registry, options.Control, loggerFactory.CreateLogger("QuicPipe.Relay.Control"), options.AllowList);
    }

    public CidTable Table { get; }

    /// <summary>The relay's NodeId: what peers pin with <c>--relay-id</c>.</summary>
    public NodeId NodeId => _identity.NodeId;

    /// <summary>True when the identity was generated at start (no key file).</summary>
    public bool IdentityIsEphemeral => _options.Identity is null;

    /// <summary>The CID registry behind the control service.</summary>
    public CidRegistry Registry { get; }

    /// <summary>The control service: the handler of the relay's QUIC connections.</summary>
    public RelayControlService Control { get; }

    /// <summary>Length of the destination CID in short-header packets, as configured.</summary>
    public int CidLength => _options.CidLength;

    /// <summary>The bound addresses of the listener the relay serves (empty until it starts).</summary>
    public IReadOnlyList<PeerAddress> LocalAddresses => _transport?.LocalAddresses ?? [];

    /// <summary>
    /// The control service's QUIC endpoint settings: the relay's identity, any client (its NodeId owns what it
    /// registers), and CIDs in the relay namespace so that the listener's stages hand its packets over.
    /// </summary>
    public QuicEndpointOptions ControlEndpointOptions => new()
    {
        Identity = _identity,
        AcceptIncoming = true,
        AllowAnyClient = true,
        ServerAlpn = RelayProtocol.Alpn,
        ConnectionIdLength = _options.CidLength,
        ConnectionIdGenerator = RelayConnectionId,

        // One control connection per identity the registry serves: the endpoint's default (4096) capped peers below
        // the registry's limit. Per source address, the control service's own quota applies.
        MaxConnections = _options.Registry.MaxIdentities,

        // Retry is safe here: its CID is in the relay namespace, so the client's next Initial comes back to us.
        Retry = _options.Control.Retry,
    };

    /// <summary>
    /// Adds something to tell about route changes. Added before the relay starts, it sees every route; added
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

    /// <summary>The allow-list's file (<see cref="RelayOptions.AllowList"/>), or null when any peer may register.</summary>
    public string? AllowListPath => _options.AllowList?.Path;

    /// <summary>
    /// Reads the allow-list file again (<see cref="RelayOptions.AllowList"/>); returns how many NodeIds it holds. Peers
    /// no longer on it lose their routes and their control connection. On an error the old list stays and
    /// <see cref="PeerAllowListException"/> says what is wrong.
    /// </summary>
    public int ReloadAllowList()
    {
        var list = _options.AllowList ?? throw new InvalidOperationException("The relay was started without an allow-list.");
        var count = list.Reload();
        Control.RevokeDisallowed();
        return count;
    }

    /// <summary>The forwarding instruments (meter QuicPipe.Relay.Forwarding) while the relay runs; null before and after.</summary>
    public RelayForwardingMetrics? ForwardingMetrics => Volatile.Read(ref _forwardingMetrics);

    /// <summary>The control and registry instruments (meter QuicPipe.Relay.Control) while the relay runs; null before and after.</summary>
    public RelayControlMetrics? ControlMetrics => Volatile.Read(ref _controlMetrics);

    /// <summary>Routes from the routes file now.</summary>
    public int StaticRouteCount
    {
        get
        {
            lock (_routesLock)
            {
                return _staticCids.Count;
            }
        }
    }

    /// <summary>Every receive loop's packet counters, summed now (zero before the listener is bound).</summary>
    public DataplaneCounters ReadPacketCounters()
    {
        var packets = new DataplaneCounters();
        _transport?.CollectCounters(packets);
        return packets;
    }

    public RelayStats Snapshot()
    {
        return new RelayStats
        {
            Packets = ReadPacketCounters(),
            Routes = Table.Count,
            StaticRoutes = StaticRouteCount,
            Evictions = Table.Evictions,
            Uptime = _uptime.Elapsed,
            Gen0Collections = GC.CollectionCount(0),
            Gen1Collections = GC.CollectionCount(1),
            Gen2Collections = GC.CollectionCount(2),
            AllocatedBytes = GC.GetTotalAllocatedBytes(precise: false),
            Control = Control.Snapshot(),
        };
    }

    /// <summary>
    /// The relay's start on its listener, once the sockets are bound: loads the routes file (checked against the
    /// bound addresses: a route to the relay itself would loop) and starts the registry's upkeep. Throws
    /// <see cref="RouteFileException"/>, leaving the table as it was.
    /// </summary>
    internal void Start(UdpTransport transport)
    {
        if (Interlocked.CompareExchange(ref _transport, transport, null) is not null)
        {
            throw new InvalidOperationException("This relay already serves a listener: a relay is one route table for one listener (give it every address).");
        }

        try
        {
            if (_options.RoutesFile is { } path)
            {
                ApplyRoutes(RouteFile.Load(path, _options.CidLength), path);
            }
        }
        catch
        {
            _transport = null;
            throw;
        }

        Control.StartMaintenance();
        if (_options.Directory is { } directory)
        {
            JoinFleet(directory, transport);
        }

        _uptime.Start();
        Volatile.Write(ref _forwardingMetrics, new RelayForwardingMetrics(this));
        Volatile.Write(ref _controlMetrics, new RelayControlMetrics(Control));
        _logger.LogInformation(
            "Control service on every listener address (ALPN {Alpn}); relay NodeId {NodeId}{Ephemeral}",
            RelayProtocol.Alpn,
            NodeId,
            IdentityIsEphemeral ? " (generated for this run: give --key FILE to keep it across restarts)" : string.Empty);
    }

    internal async Task StopAsync()
    {
        Interlocked.Exchange(ref _forwardingMetrics, null)?.Dispose();
        Interlocked.Exchange(ref _controlMetrics, null)?.Dispose();
        await Control.StopMaintenanceAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _fleet, null) is { } fleet)
        {
            // Revokes the relay's lease: every identity it published leaves the directory at once.
            Control.Fleet = null;
            Registry.IdentityObserver = null;
            await fleet.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The directory of the fleet this relay belongs to, while it runs; null for a lone relay.</summary>
    public IRelayDirectory? Directory => _fleet?.Directory;

    /// <summary>
    /// Joins the fleet of <paramref name="url"/>: identities registered from now on are published, and signals for
    /// NodeIds not connected here go through the directory. The directory connects in the background: a relay whose
    /// directory is down serves its own peers all the same.
    /// </summary>
    private void JoinFleet(RelayDirectoryUrl url, UdpTransport transport)
    {
        var address = _options.PublicAddress ?? transport.LocalAddresses[0];
        var ip = address.ToEndPoint().Address;
        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
        {
            throw new ArgumentException($"--directory: the relay listens on {address}, which other relays cannot send to: give --public-address ADDR:PORT (or --listen a specific address).");
        }

        var directory = new EtcdRelayDirectory(url, NodeId, address.ToString(), _loggerFactory.CreateLogger("QuicPipe.Relay.Fleet"));
        var fleet = new FleetMembership(directory, Registry, address, _loggerFactory.CreateLogger("QuicPipe.Relay.Fleet"));
        Registry.IdentityObserver = fleet;
        Control.Fleet = fleet;
        fleet.Start(Control.DeliverLocal);
        _fleet = fleet;
        _logger.LogInformation("Member of the fleet of directory {Directory} as relay {NodeId} at {Address}", url, NodeId, address);
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
            var local = LocalAddresses;
            foreach (var route in routes)
            {
                if (IsThisRelay(local, route.Endpoint, interfaceAddresses))
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

    /// <summary>The control endpoint's own CIDs: random, in the relay namespace, so the listener's stages hand them over.</summary>
    private static ConnectionId RelayConnectionId(int length)
    {
        Span<byte> bytes = stackalloc byte[length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        bytes[0] |= 0x80;
        return new ConnectionId(bytes);
    }

    private static bool IsThisRelay(IReadOnlyList<PeerAddress> localAddresses, PeerAddress endpoint, Lazy<HashSet<IPAddress>> interfaceAddresses)
    {
        foreach (var local in localAddresses)
        {
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
