using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Xdp.Tests;

/// <summary>The program attached natively to a veth in namespaces the test made, with real datagrams.</summary>
public sealed class VethLabTests
{
    private const int RelayPort = 4433;
    private const int PeerPort = 5001;
    private const int SenderPort = 5002;
    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromSeconds(5);

    [RootFact]
    public void A_routed_datagram_is_bounced_by_XDP_TX_and_a_miss_reaches_userspace()
    {
        using var lab = new NetworkLab();
        using var program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 1024, MissBufferBytes = 4096 });
        program.AddPort(RelayPort);
        var routed = XdpProgramFixture.NewCid();
        program.SetRoute(new XdpRoute(routed, PeerAddress.FromEndPoint(new IPEndPoint(lab.PeerAddress, PeerPort))));
        var misses = new List<XdpMissEvent>();
        using var reader = program.StartMissReader(e =>
        {
            lock (misses)
            {
                misses.Add(e);
            }
        });

        using var attachment = NetworkLab.InNamespace(lab.RelayNamespace, () => program.Attach(NetworkLab.RelayInterface, XdpAttachMode.Native, allowGenericFallback: false));
        Assert.Equal(XdpAttachMode.Native, attachment.Mode);
        Assert.Contains("prog/xdp", lab.LinkDetails(lab.RelayNamespace, NetworkLab.RelayInterface), StringComparison.Ordinal);
        // veth hands XDP_TX frames only to a peer whose NAPI is running, which an XDP program on the peer
        // turns on. Ours passes everything there: no relay port is the destination of bounced packets.
        using var peerSide = NetworkLab.InNamespace(lab.PeerNamespace, () => program.Attach(NetworkLab.PeerInterface, XdpAttachMode.Native, allowGenericFallback: false));

        using var receiver = NetworkLab.InNamespace(lab.PeerNamespace, () => Bound(lab.PeerAddress, PeerPort));
        using var sender = NetworkLab.InNamespace(lab.PeerNamespace, () => Bound(lab.PeerAddress, SenderPort));
        using var relayStack = NetworkLab.InNamespace(lab.RelayNamespace, () => Bound(lab.RelayAddress, RelayPort));
        var relay = new IPEndPoint(lab.RelayAddress, RelayPort);

        // Hit: the relay side's driver bounces it to the peer address; the relay stack never sees it.
        var packet = PacketBuilder.QuicShort(routed, bodyLength: 100);
        sender.SendTo(packet, relay);
        var (data, from) = Receive(receiver, program);
        Assert.Equal(packet, data);
        Assert.Equal(relay, from);

        // Miss: passed to the relay's stack (userspace gets the datagram) and reported on the ring buffer.
        var unknown = XdpProgramFixture.NewCid();
        var missPacket = PacketBuilder.QuicShort(unknown, bodyLength: 20);
        sender.SendTo(missPacket, relay);
        var (missData, missFrom) = Receive(relayStack, program);
        Assert.Equal(missPacket, missData);
        Assert.Equal(new IPEndPoint(lab.PeerAddress, SenderPort), missFrom);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < ReceiveTimeout && !misses.Exists(m => m.Cid == unknown))
        {
            Thread.Sleep(20);
        }

        lock (misses)
        {
            var miss = Assert.Single(misses, m => m.Cid == unknown);
            Assert.Equal(new IPEndPoint(lab.PeerAddress, SenderPort), miss.Source.ToEndPoint());
        }

        var counters = program.ReadCounters();
        Assert.True(counters.Transmitted >= 1, $"tx {counters.Transmitted}");
        Assert.True(counters.Missed >= 1, $"miss {counters.Missed}");
    }

    private static Socket Bound(IPAddress address, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)ReceiveTimeout.TotalMilliseconds };
        socket.Bind(new IPEndPoint(address, port));
        return socket;
    }

    private static (byte[] Data, IPEndPoint From) Receive(Socket socket, XdpProgram program)
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        try
        {
            var n = socket.ReceiveFrom(buffer, ref from);
            return (buffer[..n], (IPEndPoint)from);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            throw new TimeoutException($"nothing arrived at {socket.LocalEndPoint} within {ReceiveTimeout}; program counters: {program.ReadCounters()}", e);
        }
    }
}
