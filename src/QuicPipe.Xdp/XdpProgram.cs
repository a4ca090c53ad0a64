using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using QuicPipe.Dataplane;
using QuicPipe.Interop;
using QuicPipe.Xdp.Internal;
using QuicPipe.Xdp.Interop;

namespace QuicPipe.Xdp;

/// <summary>
/// The loaded relay XDP program (bpf/quicpipe_xdp.c) and its maps. Load it once, attach it to one or
/// more interfaces, keep its route table in step with the relay, drain its misses. Dispose detaches
/// nothing by itself: dispose the <see cref="XdpAttachment"/>s and <see cref="XdpMissReader"/>s first
/// (Dispose does it for those still open).
/// <para>
/// The route table is an array of 64-byte slots the program reads in place and this class writes through a
/// shared mapping: a route lives within 8 slots of its CID's keyed hash, so a lookup usually reads one cache line.
/// A route whose 8 slots are all needed by other routes (a full window) is not offloaded (<see cref="SetRoutes"/> says so and
/// <see cref="RoutesNotOffloaded"/> counts it): its packets miss and go through userspace, as every miss does.
/// </para>
/// </summary>
public sealed class XdpProgram : IDisposable
{
    private const string ProgramName = "quicpipe_xdp";

    // qp_listen_ports bits, as bpf/quicpipe_consts.h defines them.
    private const byte ListenAny4 = 0x01;
    private const byte ListenAny6 = 0x02;
    private const byte ListenAddress4 = 0x04;
    private const byte ListenAddress6 = 0x08;

    private readonly SafeBpfObjectHandle _object;
    private readonly int _programFd;

    // The mapped qp_routes; written under _lock only (one writer), unmapped by Dispose under it.
    private readonly RouteSlotTable _routes;
    private readonly int _listenFd;
    private readonly int _listenPortsFd;
    private readonly int _eventsFd;
    private readonly int _statsFd;
    private readonly int _possibleCpus;

    // Attachments and readers still open, so Dispose can close them before the object they use.
    private readonly List<IDisposable> _dependents = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    // Routes refused since load because their window was full (each refusal counts, retries included).
    private long _routesNotOffloaded;

    private XdpProgram(SafeBpfObjectHandle obj, int cidLength, int routeSlots, ulong hashKey0, ulong hashKey1)
    {
        _object = obj;
        CidLength = cidLength;
        _programFd = LibBpf.ProgramFd(FindProgram(obj));
        _listenFd = LibBpf.MapFd(FindMap(obj, "qp_listen"));
        _listenPortsFd = LibBpf.MapFd(FindMap(obj, "qp_listen_ports"));
        _eventsFd = LibBpf.MapFd(FindMap(obj, "qp_events"));
        _statsFd = LibBpf.MapFd(FindMap(obj, "qp_stats"));
        _possibleCpus = LibBpf.NumPossibleCpus();
        if (_possibleCpus <= 0)
        {
            throw new XdpException("libbpf_num_possible_cpus", -_possibleCpus);
        }

        _routes = RouteSlotTable.Map(LibBpf.MapFd(FindMap(obj, "qp_routes")), routeSlots, hashKey0, hashKey1);
    }

    /// <summary>The CID length the program parses; every routed CID has it.</summary>
    public int CidLength { get; }

    /// <summary>Slots in the route table (64 bytes each): the next power of two at or above twice <see cref="XdpProgramOptions.RouteCapacity"/>.</summary>
    public int RouteSlots => _routes.SlotCount;

    /// <summary>Routes the table holds now.</summary>
    public int RouteCount
    {
        get
        {
            lock (_lock)
            {
                ThrowIfDisposed();
                return _routes.Count;
            }
        }
    }

    /// <summary>
    /// Route writes refused since load because the route's window (its home slot and the 7 after it) was full: each
    /// refusal counts, so a route refused again when its miss tries to put it back counts again. Those routes' packets
    /// are forwarded by userspace.
    /// </summary>
    public long RoutesNotOffloaded => Interlocked.Read(ref _routesNotOffloaded);

    /// <summary>The slot a CID's lookup starts at (tests aim routes at one window with it).</summary>
    internal int HomeSlotOf(ConnectionId cid) => _routes.HomeOf(KeyOf(cid));

    /// <summary>Opens the object, sizes the maps and sets the CID length, then verifies and loads it.</summary>
    public static unsafe XdpProgram Load(XdpProgramOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!File.Exists(options.ObjectPath))
        {
            throw new FileNotFoundException("The compiled XDP program is missing; the build puts quicpipe_xdp.o beside QuicPipe.Xdp.dll.", options.ObjectPath);
        }

        var obj = LibBpf.ObjectOpenFile(options.ObjectPath, 0);
        if (obj.IsInvalid)
        {
            var errno = Marshal.GetLastPInvokeError();
            obj.Dispose();
            throw new XdpException($"bpf_object__open_file({options.ObjectPath})", errno);
        }

        try
        {
            var slots = RouteSlotTable.SlotCountFor(options.RouteCapacity);
            Check(LibBpf.MapSetMaxEntries(FindMap(obj, "qp_routes"), (uint)slots), "set qp_routes slots");
            Check(LibBpf.MapSetMaxEntries(FindMap(obj, "qp_events"), options.MissBufferBytes), "set qp_events size");

            // .rodata holds exactly struct qp_config; the verifier sees its fields as constants.
            var config = (ProgramConfig*)LibBpf.MapInitialValue(FindMap(obj, ".rodata"), out var size);
            if (config is null || size != (nuint)sizeof(ProgramConfig))
            {
                throw new XdpException($"The program's .rodata is {size} bytes, not struct qp_config ({sizeof(ProgramConfig)}): the object and this loader disagree.");
            }

            // A fresh hash key per load: without it, peers that choose their CIDs cannot aim them at one window.
            Span<ulong> hashKey = stackalloc ulong[2];
            RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(hashKey));
            config->CidLength = (byte)options.CidLength;
            config->RouteMask = (uint)slots - 1;
            config->HashKey0 = hashKey[0];
            config->HashKey1 = hashKey[1];
            Check(LibBpf.ObjectLoad(obj), "bpf_object__load (the kernel log above says why the verifier refused it)");
            return new XdpProgram(obj, options.CidLength, slots, hashKey[0], hashKey[1]);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Lets the program look at UDP traffic to <paramref name="port"/> on any address of either family:
    /// the same as <see cref="AddListener"/> with 0.0.0.0 and with [::] on that port.
    /// </summary>
    public void AddPort(int port)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, ushort.MaxValue);
        AddListener(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Any, port)));
        AddListener(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.IPv6Any, port)));
    }

    /// <summary>
    /// Lets the program look at UDP traffic to one address and port the relay listens on. An unspecified
    /// address (0.0.0.0 or [::]) is that family's wildcard: any destination address of the family on the
    /// port. IPv6 entries never match IPv4 traffic (the relay's IPv6 sockets are IPV6_V6ONLY); an
    /// IPv4-mapped IPv6 address is stored as the IPv6 address it is. Traffic to an address + port with no
    /// entry (exact or wildcard) passes to the stack untouched and counts as <see cref="XdpCounters.NonQuic"/>.
    /// </summary>
    public unsafe void AddListener(PeerAddress address)
    {
        if (!address.IsIPv4 && !address.IsIPv6)
        {
            throw new ArgumentException("A listen address must be IPv4 or IPv6.", nameof(address));
        }

        ThrowIfDisposed();
        var key = default(ListenKey);
        key.Family = AddressCodec.FamilyOf(address);
        key.PortBigEndian = BinaryPrimitives.ReverseEndianness((ushort)address.Port); // network order in memory
        AddressCodec.WriteAddress(address, key.Address);
        byte value = 1;
        lock (_lock)
        {
            Check(LibBpf.MapUpdateElem(_listenFd, &key, &value, LibBpf.UpdateAny), $"add listen address {address}");

            // The port's bits are what the program reads first; the exact entry above matters only when no wildcard covers it.
            var port = (uint)address.Port;
            byte bits;
            Check(LibBpf.MapLookupElem(_listenPortsFd, &port, &bits), $"read listen bits of port {port}");
            bits |= ListenBits(address);
            Check(LibBpf.MapUpdateElem(_listenPortsFd, &port, &bits, LibBpf.UpdateAny), $"set listen bits of port {port}");
        }
    }

    /// <summary>The <c>QP_LISTEN_*</c> bit (bpf/quicpipe_consts.h) a listener on <paramref name="address"/> sets on its port.</summary>
    private static byte ListenBits(PeerAddress address)
    {
        var wildcard = !address.AddressBytes.ContainsAnyExcept((byte)0);
        return (address.IsIPv4, wildcard) switch
        {
            (true, true) => ListenAny4,
            (false, true) => ListenAny6,
            (true, false) => ListenAddress4,
            (false, false) => ListenAddress6,
        };
    }

    /// <summary>Adds or replaces one route; false when it is new and its window is full (not offloaded; see <see cref="SetRoutes"/>).</summary>
    public bool SetRoute(XdpRoute route) => SetRoutes([route]) == 0;

    /// <summary>
    /// Adds or replaces routes, writing their slots in place (no system call). Returns how many were not offloaded:
    /// new routes whose window (home slot and the 7 after it) was full. Those are not an error: their packets miss,
    /// and userspace forwards them; <see cref="RoutesNotOffloaded"/> counts them. Every route is checked before any is
    /// written, so an invalid one (<see cref="ArgumentException"/>) changes nothing.
    /// </summary>
    public int SetRoutes(ReadOnlySpan<XdpRoute> routes)
    {
        var keys = new CidKey[routes.Length];
        var values = new RouteValue[routes.Length];
        for (var i = 0; i < routes.Length; i++)
        {
            keys[i] = KeyOf(routes[i].Cid);
            values[i] = ValueOf(routes[i]);
        }

        var refused = 0;
        lock (_lock)
        {
            ThrowIfDisposed();
            for (var i = 0; i < keys.Length; i++)
            {
                if (!_routes.TrySet(keys[i], values[i]))
                {
                    refused++;
                }
            }
        }

        Interlocked.Add(ref _routesNotOffloaded, refused);
        return refused;
    }

    /// <summary>Removes a route; false if there was none (or it was never offloaded).</summary>
    public bool RemoveRoute(ConnectionId cid)
    {
        var key = KeyOf(cid);
        lock (_lock)
        {
            ThrowIfDisposed();
            return _routes.Remove(key);
        }
    }

    /// <summary>Reads a route back; false if the CID has none (removed, or not offloaded).</summary>
    public bool TryGetRoute(ConnectionId cid, out XdpRoute route)
    {
        var key = KeyOf(cid);
        RouteValue value;
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_routes.TryGet(key, out value))
            {
                route = default;
                return false;
            }
        }

        var peer = AddressCodec.ToPeerAddress(value.Family, value.PeerAddress, value.PeerPortBigEndian);
        var relay = ((ReadOnlySpan<byte>)value.RelayAddress).ContainsAnyExcept((byte)0)
            ? AddressCodec.ToPeerAddress(value.Family, value.RelayAddress, 0)
            : default;
        route = new XdpRoute(cid, peer, relay);
        return true;
    }

    /// <summary>Sums the per-CPU counters.</summary>
    public unsafe XdpCounters ReadCounters()
    {
        ThrowIfDisposed();
        Span<ulong> totals = stackalloc ulong[XdpCounters.Count];
        var perCpu = new ulong[_possibleCpus];
        fixed (ulong* values = perCpu)
        {
            for (uint i = 0; i < XdpCounters.Count; i++)
            {
                var key = i;
                Check(LibBpf.MapLookupElem(_statsFd, &key, values), "read qp_stats");
                ulong sum = 0;
                foreach (var v in perCpu)
                {
                    sum += v;
                }

                totals[(int)i] = sum;
            }
        }

        return XdpCounters.From(totals);
    }

    /// <summary>
    /// Attaches to an interface through a BPF link. <see cref="XdpAttachMode.Native"/> falls back to
    /// generic when the driver refuses and <paramref name="allowGenericFallback"/> is set; the
    /// attachment's <see cref="XdpAttachment.Mode"/> and <see cref="XdpAttachment.FallbackReason"/> say so.
    /// </summary>
    public XdpAttachment Attach(string interfaceName, XdpAttachMode mode = XdpAttachMode.Native, bool allowGenericFallback = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        var ifindex = Libc.IfNameToIndex(interfaceName);
        if (ifindex == 0)
        {
            throw new XdpException($"if_nametoindex({interfaceName})", Marshal.GetLastPInvokeError());
        }

        return Attach((int)ifindex, mode, allowGenericFallback);
    }

    /// <inheritdoc cref="Attach(string, XdpAttachMode, bool)"/>
    public XdpAttachment Attach(int interfaceIndex, XdpAttachMode mode = XdpAttachMode.Native, bool allowGenericFallback = true)
    {
        ThrowIfDisposed();
        string? fallbackReason = null;
        var fd = CreateLink(interfaceIndex, mode);
        if (fd < 0 && mode == XdpAttachMode.Native && allowGenericFallback)
        {
            fallbackReason = $"native XDP refused: {Marshal.GetPInvokeErrorMessage(-fd)} (errno {-fd})";
            mode = XdpAttachMode.Generic;
            fd = CreateLink(interfaceIndex, mode);
        }

        if (fd < 0)
        {
            throw new XdpException($"bpf_link_create(XDP, ifindex {interfaceIndex}, {mode})", -fd);
        }

        var attachment = new XdpAttachment(this, new SafeBpfLinkHandle(fd), interfaceIndex, InterfaceName(interfaceIndex), mode, fallbackReason);
        lock (_lock)
        {
            _dependents.Add(attachment);
        }

        return attachment;
    }

    /// <summary>The name of interface <paramref name="index"/> in the calling thread's namespace, or null.</summary>
    private static unsafe string? InterfaceName(int index)
    {
        var name = stackalloc byte[EthtoolIfReq.NameSize];
        return Libc.IfIndexToName((uint)index, name) is null ? null : Marshal.PtrToStringUTF8((nint)name);
    }

    /// <summary>Starts a thread that drains the miss ring buffer and calls <paramref name="onMiss"/> per event.</summary>
    public XdpMissReader StartMissReader(Action<XdpMissEvent> onMiss)
    {
        ArgumentNullException.ThrowIfNull(onMiss);
        ThrowIfDisposed();
        var reader = new XdpMissReader(this, _eventsFd, onMiss);
        lock (_lock)
        {
            _dependents.Add(reader);
        }

        return reader;
    }

    /// <summary>
    /// Runs the program once over <paramref name="frame"/> without an interface (BPF_PROG_TEST_RUN) and
    /// returns its verdict; <paramref name="output"/> receives the frame as the program left it.
    /// </summary>
    public unsafe XdpAction TestRun(ReadOnlySpan<byte> frame, Span<byte> output, out int outputLength)
    {
        ThrowIfDisposed();
        fixed (byte* input = frame)
        fixed (byte* result = output)
        {
            var opts = new BpfTestRunOpts
            {
                Size = (nuint)sizeof(BpfTestRunOpts),
                DataIn = input,
                DataSizeIn = (uint)frame.Length,
                DataOut = result,
                DataSizeOut = (uint)output.Length,
                Repeat = 1,
            };
            Check(LibBpf.ProgTestRunOpts(_programFd, &opts), "bpf_prog_test_run_opts");
            outputLength = (int)opts.DataSizeOut;
            return (XdpAction)opts.ReturnValue;
        }
    }

    /// <summary>The id of the XDP program attached to an interface (0 for none) and how it is attached.</summary>
    public static unsafe (uint ProgramId, XdpAttachMode? Mode) Query(int interfaceIndex)
    {
        var opts = new BpfXdpQueryOpts { Size = (nuint)sizeof(BpfXdpQueryOpts) };
        Check(LibBpf.XdpQuery(interfaceIndex, 0, &opts), $"bpf_xdp_query(ifindex {interfaceIndex})");
        XdpAttachMode? mode = opts.AttachMode switch
        {
            1 => XdpAttachMode.Native, // XDP_ATTACHED_DRV
            2 => XdpAttachMode.Generic, // XDP_ATTACHED_SKB
            _ => null,
        };
        return (opts.ProgramId, mode);
    }

    public void Dispose()
    {
        IDisposable[] dependents;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            dependents = [.. _dependents];
            _dependents.Clear();
        }

        foreach (var d in dependents)
        {
            d.Dispose();
        }

        // After _disposed is set under the lock, no route write is under way or can start: unmapping is safe.
        _routes.Dispose();
        _object.Dispose();
    }

    internal void Forget(IDisposable dependent)
    {
        lock (_lock)
        {
            _dependents.Remove(dependent);
        }
    }

    private unsafe int CreateLink(int interfaceIndex, XdpAttachMode mode)
    {
        // libbpf 1.1's bpf_program__attach_xdp takes no flags, so it cannot ask for a mode; bpf_link_create
        // passes them to the kernel's XDP link (a link, like attach_xdp's, so it dies with the process).
        var opts = new BpfLinkCreateOpts
        {
            Size = (nuint)sizeof(BpfLinkCreateOpts),
            Flags = mode == XdpAttachMode.Native ? LibBpf.XdpFlagsDrvMode : LibBpf.XdpFlagsSkbMode,
        };
        return LibBpf.LinkCreate(_programFd, interfaceIndex, LibBpf.AttachTypeXdp, &opts);
    }

    private CidKey KeyOf(ConnectionId cid)
    {
        if (cid.Length != CidLength)
        {
            throw new ArgumentException($"The program routes {CidLength}-byte CIDs; {cid} has {cid.Length} bytes.", nameof(cid));
        }

        return CidKey.From(cid);
    }

    private static RouteValue ValueOf(XdpRoute route)
    {
        if (!route.Peer.IsIPv4 && !route.Peer.IsIPv6)
        {
            throw new ArgumentException($"Route {route.Cid} has no peer address.", nameof(route));
        }

        if (!route.RelaySource.IsEmpty && route.RelaySource.RawFamily != route.Peer.RawFamily)
        {
            throw new ArgumentException($"Route {route.Cid}: the relay source {route.RelaySource} and the peer {route.Peer} are of different families.", nameof(route));
        }

        var value = default(RouteValue);
        AddressCodec.WriteAddress(route.Peer, value.PeerAddress);
        if (!route.RelaySource.IsEmpty)
        {
            AddressCodec.WriteAddress(route.RelaySource, value.RelayAddress);
        }

        value.PeerPortBigEndian = BinaryPrimitives.ReverseEndianness((ushort)route.Peer.Port);
        value.Family = AddressCodec.FamilyOf(route.Peer);
        return value;
    }

    private static nint FindMap(SafeBpfObjectHandle obj, string name)
    {
        var map = LibBpf.ObjectFindMapByName(obj, name);
        return map != 0 ? map : throw new XdpException($"The XDP object has no map '{name}'.");
    }

    private static nint FindProgram(SafeBpfObjectHandle obj)
    {
        var program = LibBpf.ObjectFindProgramByName(obj, ProgramName);
        return program != 0 ? program : throw new XdpException($"The XDP object has no program '{ProgramName}'.");
    }

    private static void Check(int rc, string operation)
    {
        if (rc < 0)
        {
            throw new XdpException(operation, -rc);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
