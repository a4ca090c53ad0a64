using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane;
using QuicPipe.Lab;
using QuicPipe.Xdp;

namespace QuicPipe.Relay.Tests;

/// <summary>
/// A relay with <c>--xdp</c> (built as the CLI builds it: UseRelayForwarding then UseXdpOffload) and no routes file on a veth in namespaces made for one test (its routes come
/// from the registry), with a sender and the routed peer on the other side, over IPv4 or IPv6. The control
/// service's maintenance is parked (hour-long intervals): tests call the registry's ProcessRouteUses
/// and Sweep themselves, so they can look at the map between a use and the window
/// advance it causes.
/// </summary>
internal sealed class RelayXdpLab : IDisposable
{
    public const int RelayPort = 4433;
    public const int PeerPort = 5001;
    public const int SenderPort = 5002;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly List<IDisposable> _owned = [];

    public RelayXdpLab(bool ipv6 = false)
    {
        try
        {
            var lab = Own(new NetworkLab());
            if (ipv6)
            {
                // NetworkLab only numbers IPv4; nodad so the addresses are usable (bindable) at once.
                var subnet = lab.RelayAddress.GetAddressBytes()[2];
                RelayAddress = IPAddress.Parse($"fd00:200:{subnet:x}::1");
                PeerAddress = IPAddress.Parse($"fd00:200:{subnet:x}::2");
                NetworkLab.Ip("-n", lab.RelayNamespace, "addr", "add", $"{RelayAddress}/64", "dev", NetworkLab.RelayInterface, "nodad");
                NetworkLab.Ip("-n", lab.PeerNamespace, "addr", "add", $"{PeerAddress}/64", "dev", NetworkLab.PeerInterface, "nodad");
            }
            else
            {
                RelayAddress = lab.RelayAddress;
                PeerAddress = lab.PeerAddress;
            }

            PeerNamespace = lab.PeerNamespace;
            RelayNamespace = lab.RelayNamespace;
            var options = new RelayOptions
            {
                Control = new() { RouteUseInterval = TimeSpan.FromHours(1), SweepInterval = TimeSpan.FromHours(1) },
            };
            var xdp = new RelayXdpOptions { Interface = NetworkLab.RelayInterface, RouteCapacity = 1024 };
            Built = Own(NetworkLab.InNamespace(lab.RelayNamespace, () => BuiltRelay.Start(options, RelayEndPoint, xdp)));

            // veth delivers XDP_TX frames only to a peer running NAPI, which an XDP program there turns on;
            // a program that sees no relay port passes everything.
            var passProgram = Own(XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 16, MissBufferBytes = 4096 }));
            Own(NetworkLab.InNamespace(lab.PeerNamespace, () => passProgram.Attach(NetworkLab.PeerInterface, XdpAttachMode.Native, allowGenericFallback: false)));
            Peer = Own(NetworkLab.InNamespace(lab.PeerNamespace, () => Bound(PeerAddress, PeerPort)));
            Sender = Own(NetworkLab.InNamespace(lab.PeerNamespace, () => Bound(PeerAddress, SenderPort)));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IPAddress RelayAddress { get; } = IPAddress.None;

    public IPAddress PeerAddress { get; } = IPAddress.None;

    public string PeerNamespace { get; } = string.Empty;

    public string RelayNamespace { get; } = string.Empty;

    public BuiltRelay Built { get; } = null!;

    public RelayRouter Relay => Built.Relay;

    public XdpProgram Program => Built.Program;

    public Socket Peer { get; } = null!;

    public Socket Sender { get; } = null!;

    public IPEndPoint RelayEndPoint => new(RelayAddress, RelayPort);

    public PeerAddress PeerRoute => Dataplane.PeerAddress.FromEndPoint(new IPEndPoint(PeerAddress, PeerPort));

    public T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    /// <summary>Whether the XDP map routes <paramref name="cid"/> to the peer.</summary>
    public bool MapRoutesToPeer(ConnectionId cid) =>
        Program.TryGetRoute(cid, out var route) && route.Peer.ToEndPoint().Equals(new IPEndPoint(PeerAddress, PeerPort));

    public void Send(ConnectionId cid, int payloadLength = 40) =>
        Sender.SendTo(RelayForwardingStageTests.ShortPacket(cid, payloadLength), RelayEndPoint);

    /// <summary>The next datagram at the peer, checked to be <paramref name="expected"/> from the relay.</summary>
    public void ReceiveAtPeer(byte[] expected)
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(PeerAddress.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        int n;
        try
        {
            n = Peer.ReceiveFrom(buffer, ref from);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            throw new TimeoutException($"nothing arrived at the peer within {Timeout}; {Describe(Snapshot())}", e);
        }

        if (!buffer.AsSpan(0, n).SequenceEqual(expected) || !RelayEndPoint.Equals(from))
        {
            throw new InvalidOperationException($"the peer got {n} bytes from {from}, not the {expected.Length} sent, from {RelayEndPoint}");
        }
    }

    public RelayStats Snapshot() => Built.Snapshot();

    public static bool WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Timeout)
            {
                return false;
            }

            Thread.Sleep(10);
        }

        return true;
    }

    public static string Describe(RelayStats s) =>
        $"relay rx {s.Packets.Received} fwd {s.Packets.Forwarded} drop {s.Packets.DroppedTotal}; xdp {s.Xdp?.Program}, reinserted {s.Xdp?.MissesReinserted}, ignored {s.Xdp?.MissesIgnored}";

    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
    }

    private static Socket Bound(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)Timeout.TotalMilliseconds };
        socket.Bind(new IPEndPoint(address, port));
        return socket;
    }
}
