using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Lab;
using QuicPipe.Relay.Control;
using QuicPipe.Relay.Tests.Control;
using Xunit;

namespace QuicPipe.Relay.Tests;

/// <summary>
/// The relay listening on an IPv6 address in the veth lab, its route registered through the registry: the XDP
/// program forwards a QUIC short-header packet by CID in the driver, rewriting addresses and ports with a UDP
/// checksum that still verifies (checked from a raw socket, which sees the datagram before UDP would drop it).
/// </summary>
[Collection(nameof(RelayXdpLabTests))]
public sealed class RelayXdpIPv6LabTests : IDisposable
{
    private RelayXdpLab _lab = null!;

    public void Dispose() => _lab?.Dispose();

    [RootFact]
    public void An_IPv6_short_header_packet_is_forwarded_by_XDP_TX_with_a_valid_UDP_checksum()
    {
        _lab = new RelayXdpLab(ipv6: true);
        var cid = RegistryFixture.Cid(6);
        var result = _lab.Relay.Registry.Register(RegistryFixture.Node(6), 1, _lab.PeerRoute, RegistryFixture.ExplicitRequest([cid]));
        Assert.Equal(RegistryStatus.Ok, result.Status);
        Assert.True(_lab.MapRoutesToPeer(cid), "the IPv6 route is not in the XDP map");

        // Raw IPv6 sockets get the UDP header and payload, checksum unverified.
        using var raw = NetworkLab.InNamespace(_lab.PeerNamespace, () =>
        {
            var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Raw, ProtocolType.Udp) { ReceiveTimeout = (int)RelayXdpLab.Timeout.TotalMilliseconds };
            socket.Bind(new IPEndPoint(_lab.PeerAddress, 0));
            return socket;
        });
        var packet = RelayForwardingStageTests.ShortPacket(cid, 333); // odd length: the checksum's padding byte counts
        _lab.Sender.SendTo(packet, _lab.RelayEndPoint);
        _lab.ReceiveAtPeer(packet);

        var (udp, source) = ReceiveForwarded(raw);
        Assert.Equal(_lab.RelayAddress, source);
        Assert.Equal(packet, udp[8..]);
        Assert.True(Checksum.UdpValid(_lab.RelayAddress, _lab.PeerAddress, udp), "the rewritten UDP checksum does not verify");

        var stats = _lab.Snapshot();
        Assert.Equal(1UL, stats.Xdp!.Program.Transmitted);
        Assert.Equal(0, stats.Packets.Received);
        Assert.Equal(0, stats.Packets.Forwarded);
    }

    /// <summary>The UDP datagram (header and payload) the relay sent from its port to the peer's.</summary>
    private static (byte[] Udp, IPAddress Source) ReceiveForwarded(Socket raw)
    {
        var buffer = new byte[2048];
        while (true)
        {
            EndPoint from = new IPEndPoint(IPAddress.IPv6Any, 0);
            var n = raw.ReceiveFrom(buffer, ref from); // throws on timeout
            if (n >= 8 && BinaryPrimitives.ReadUInt16BigEndian(buffer) == RelayXdpLab.RelayPort &&
                BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)) == RelayXdpLab.PeerPort)
            {
                return (buffer[..n], ((IPEndPoint)from).Address);
            }
        }
    }
}
