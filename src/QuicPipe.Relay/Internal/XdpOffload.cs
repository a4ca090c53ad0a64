using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Xdp;

namespace QuicPipe.Relay.Internal;

/// <summary>
/// The relay's XDP offload: the program attached to one interface, watching the relay's bound listen addresses, its route
/// table mirroring the relay's routes (<see cref="IRouteObserver"/>), and its misses put back while the
/// relay still routes their CID, unless the route asks to report its use. A route the table refuses (its window full)
/// stays with userspace, which forwards its packets as it does every miss. The forwarding code does not know it exists: a packet the program does
/// not bounce reaches the relay's sockets as before. After <see cref="Dispose"/> every call is a no-op: the relay may
/// tell it of a change that was under way while it was being removed.
/// </summary>
internal sealed partial class XdpOffload : IRouteObserver, IDisposable
{
    private const int NoSuchDevice = 19; // ENODEV, from if_nametoindex

    // How often the driver's XDP transmit errors are checked, so the first lost frames are reported within seconds
    // even when no one reads the stats.
    private static readonly TimeSpan TransmitErrorCheckInterval = TimeSpan.FromSeconds(2);

    private readonly XdpProgram _program;
    private readonly CidTable _table;
    private readonly ILogger _logger;
    private readonly string _interface;

    // Serialises map writes with the miss path's "is it still routed?" check, so a miss handled while a
    // reload removes its CID cannot put the route back after the removal; and every map write with Dispose,
    // so none reaches a program being unloaded.
    private readonly Lock _lock = new();
    private bool _disposed;
    private XdpAttachment? _attachment;
    private XdpMissReader? _missReader;
    private long _reinserted;
    private long _ignored;
    private bool _notOffloadedReported;
    private ulong _transmitErrorsAtAttach;
    private bool _transmitErrorsReported;
    private Timer? _transmitErrorCheck;

    private XdpOffload(XdpProgram program, CidTable table, string interfaceName, ILogger logger)
    {
        _program = program;
        _table = table;
        _interface = interfaceName;
        _logger = logger;
    }

    /// <summary>
    /// Loads the program, lets it see the relay's bound <paramref name="listenAddresses"/> (a wildcard
    /// address covers its whole family on that port; a specific one only itself), attaches it and starts
    /// draining misses. Throws <see cref="XdpOffloadException"/> with a message for the operator, leaving
    /// nothing attached.
    /// </summary>
    public static XdpOffload Start(RelayXdpOptions options, int cidLength, CidTable table, IEnumerable<PeerAddress> listenAddresses, ILogger logger)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new XdpOffloadException($"--xdp {options.Interface}: loading an XDP program needs root (CAP_BPF and CAP_NET_ADMIN)");
        }

        XdpProgram? program = null;
        try
        {
            var programOptions = new XdpProgramOptions { CidLength = cidLength, RouteCapacity = options.RouteCapacity ?? (uint)table.Capacity };
            if (options.ObjectPath is not null)
            {
                programOptions.ObjectPath = options.ObjectPath;
            }

            program = XdpProgram.Load(programOptions);
            foreach (var address in listenAddresses.Distinct())
            {
                program.AddListener(address);
            }

            var offload = new XdpOffload(program, table, options.Interface, logger);
            offload.Attach(options);
            return offload;
        }
        catch (XdpException e) when (e.Errno == NoSuchDevice)
        {
            program?.Dispose();
            throw new XdpOffloadException($"--xdp {options.Interface}: no such network interface", e);
        }
        catch (XdpException e)
        {
            program?.Dispose();
            throw new XdpOffloadException($"--xdp {options.Interface}: {e.Message}", e);
        }
        catch (FileNotFoundException e)
        {
            program?.Dispose();
            throw new XdpOffloadException($"--xdp {options.Interface}: {e.Message} ({e.FileName})", e);
        }
    }

    /// <summary>The loaded program (tests change its map behind the relay's back through this).</summary>
    internal XdpProgram Program => _program;

    /// <summary>
    /// Copies the routes already in the table into the map. Called once the offload observes the relay: a
    /// change after the copy is told, one before it is in the copy, and the lock orders the two, so a removal
    /// told while copying still wins. Report-use routes stay out, as when the registry tells them.
    /// </summary>
    public void MirrorTable()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var entries = new (ConnectionId Cid, CidRoute Route)[_table.Count + 64];
            int count;
            while ((count = _table.CopyTo(entries)) == entries.Length)
            {
                entries = new (ConnectionId Cid, CidRoute Route)[entries.Length * 2];
            }

            var now = _table.NowMs;
            var mirrored = entries.Take(count)
                .Where(e => (e.Route.OwnerId & RouteFlags.ReportUse) == 0 && e.Route.ExpiresAtMs > now)
                .Select(e => new XdpRoute(e.Cid, e.Route.Endpoint))
                .ToArray();
            SetRoutesLocked(mirrored);
        }
    }

    public void OnRoutesSet(ReadOnlySpan<(ConnectionId Cid, PeerAddress Endpoint)> routes)
    {
        var mirrored = new XdpRoute[routes.Length];
        for (var i = 0; i < routes.Length; i++)
        {
            mirrored[i] = new XdpRoute(routes[i].Cid, routes[i].Endpoint);
        }

        lock (_lock)
        {
            if (!_disposed)
            {
                SetRoutesLocked(mirrored);
            }
        }
    }

    public void OnRoutesRemoved(ReadOnlySpan<ConnectionId> cids)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            foreach (var cid in cids)
            {
                _program.RemoveRoute(cid);
            }
        }
    }

    /// <summary>The counters, or null once disposed (the program is gone).</summary>
    public XdpOffloadStats? Snapshot()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return null;
            }

            return new XdpOffloadStats
            {
                Interface = _interface,
                Mode = _attachment?.Mode ?? XdpAttachMode.Native,
                Program = _program.ReadCounters(),
                MissesReinserted = _reinserted,
                MissesIgnored = _ignored,
                SyncErrors = 0,
                RoutesNotOffloaded = _program.RoutesNotOffloaded,
                TransmitErrors = TransmitErrorsLocked(),
            };
        }
    }

    public void Dispose()
    {
        // Marked under the lock, so no map write is half way when the program goes; the reader, the link and the
        // program are released outside it, since the reader's thread may be waiting for the lock in OnMiss.
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        // The reader first: it writes to the map. Then the link, so the interface stops running the program.
        _transmitErrorCheck?.Dispose();
        _missReader?.Dispose();
        _attachment?.Dispose();
        _program.Dispose();
    }

    private void Attach(RelayXdpOptions options)
    {
        _attachment = _program.Attach(options.Interface, options.Mode, allowGenericFallback: options.Mode == XdpAttachMode.Native);
        if (_attachment.FallbackReason is not null)
        {
            LogFallback(_logger, options.Interface, _attachment.FallbackReason);
        }

        _missReader = _program.StartMissReader(OnMiss);
        LogAttached(_logger, options.Interface, _attachment.Mode, _attachment.InterfaceIndex);
        if (_attachment.Driver == XdpAttachment.VethDriver)
        {
            LogVeth(_logger, options.Interface);
        }

        _transmitErrorsAtAttach = _attachment.ReadTransmitErrors();
        _transmitErrorCheck = new Timer(static state => ((XdpOffload)state!).CheckTransmitErrors(), this, TransmitErrorCheckInterval, TransmitErrorCheckInterval);
    }

    // On a timer thread: the first transmit errors are worth a warning that says what to do; the stats count the rest.
    private void CheckTransmitErrors()
    {
        lock (_lock)
        {
            if (_disposed || _transmitErrorsReported)
            {
                return;
            }

            var errors = TransmitErrorsLocked();
            if (errors > 0)
            {
                _transmitErrorsReported = true;
                LogTransmitErrors(_logger, _interface, errors, _attachment?.Driver == XdpAttachment.VethDriver ? VethTransmitAdvice : "the driver's ethtool -S statistics say which queue");
            }
        }
    }

    private long TransmitErrorsLocked()
    {
        var now = _attachment?.ReadTransmitErrors() ?? 0;
        return now > _transmitErrorsAtAttach ? (long)(now - _transmitErrorsAtAttach) : 0;
    }

    private const string VethTransmitAdvice =
        "veth drops XDP_TX frames when the other end of the pair runs no XDP program: attach one there (any program that passes everything turns its receive path on), or run the relay without --xdp";

    // On the reader's thread, once per missed packet.
    private void OnMiss(XdpMissEvent miss)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            // A report-use route (the upper half of a registry window) is routed but kept out of the map on
            // purpose: put back, its next packets would be forwarded in the driver and the registry, which
            // slides the window on their use, might never hear of it (use notices may be dropped).
            if (!_table.TryGet(miss.Cid, out var route) || (route.OwnerId & RouteFlags.ReportUse) != 0)
            {
                _ignored++;
                return;
            }

            // Refused when the route's window is full: then it stays with userspace, and each of its packets comes this
            // way again (the program cannot tell a refused route from a removed one).
            if (_program.SetRoute(new XdpRoute(miss.Cid, route.Endpoint)))
            {
                _reinserted++;
            }
            else
            {
                ReportNotOffloadedLocked(1);
            }
        }
    }

    private void SetRoutesLocked(XdpRoute[] routes)
    {
        var refused = _program.SetRoutes(routes);
        if (refused > 0)
        {
            ReportNotOffloadedLocked(refused);
        }
    }

    // The first refusal is worth a warning that says what it costs; the stats count the rest (routes_not_offloaded).
    private void ReportNotOffloadedLocked(int count)
    {
        if (!_notOffloadedReported)
        {
            _notOffloadedReported = true;
            LogNotOffloaded(_logger, count, _program.RouteCount, _program.RouteSlots);
        }
    }

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "XDP route table: {Count} route(s) not offloaded, their 8-slot window being full ({Routes} routes in {Slots} slots); userspace forwards their packets. Further refusals are counted in routes_not_offloaded; a larger table capacity (--table-capacity, which sizes the XDP table too) makes them rarer")]
    private static partial void LogNotOffloaded(ILogger logger, int count, int routes, int slots);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "XDP offload attached to {Interface} (ifindex {Index}) in {Mode} mode")]
    private static partial void LogAttached(ILogger logger, string @interface, XdpAttachMode mode, int index);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "XDP on {Interface} runs in generic mode: {Reason}")]
    private static partial void LogFallback(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "XDP on {Interface}, a veth: bounced frames reach the other end only if it runs an XDP program, and frames from a sender with checksum offload carry partial checksums the program cannot complete (receivers drop them). If nothing arrives: attach an XDP program to the other end and turn its checksum offload off (ethtool -K PEER tx off); the stats line's tx_errors counts what veth dropped")]
    private static partial void LogVeth(ILogger logger, string @interface);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "XDP on {Interface}: {Errors} bounced frame(s) were not sent by the driver (the program counted them as forwarded): {Advice}")]
    private static partial void LogTransmitErrors(ILogger logger, string @interface, long errors, string advice);
}
