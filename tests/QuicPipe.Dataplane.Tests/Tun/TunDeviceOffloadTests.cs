using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>
/// A real TUN device with offloads, in a namespace of its own per test: the kernel hands over a UDP super-packet
/// whole and the listener's reader cuts it into the datagrams the socket meant; plain packets still go in.
/// </summary>
public class TunDeviceOffloadTests
{
    // SOL_UDP / UDP_SEGMENT (linux/udp.h): the socket hands the kernel one buffer to send as segments of this size.
    private const int SolUdp = 17;
    private const int UdpSegment = 103;

    private static readonly TunDeviceOptions Options = new()
    {
        Addresses = [InterfaceAddress.Parse("198.18.0.1/24")],
        Mtu = 1400,
        Offload = true,
    };

    [RootFact]
    public void A_UDP_GSO_send_is_read_as_one_frame_and_cut_into_the_datagrams_it_stands_for()
    {
        using var ns = new TestNamespace("qptun");
        var payload = OffloadPackets.Payload(3500);
        var (packets, counters) = ns.Run(() =>
        {
            using var device = TunDevice.Create(Options);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SetRawSocketOption(SolUdp, UdpSegment, BitConverter.GetBytes(1000));
            socket.SendTo(payload, new IPEndPoint(IPAddress.Parse("198.18.0.9"), 5000));

            var counters = new DataplaneCounters();
            var reader = new TunBatchReader(device, counters);
            var batch = new PacketBatch(64, 2048);
            var packets = new List<byte[]>();
            var deadline = DateTime.UtcNow.AddSeconds(3);
            while (packets.Count < 4 && DateTime.UtcNow < deadline)
            {
                device.WaitReadable(200);
                batch.Clear();
                reader.Fill(batch);
                for (var i = 0; i < batch.Count; i++)
                {
                    // Only the datagrams to port 5000: the kernel may also send its own (IPv6 is off, but be sure).
                    if (batch.Payload(i) is [0x45, ..] p && p[9] == 17 && p[22] == 5000 >> 8 && p[23] == (5000 & 0xFF))
                    {
                        packets.Add(p.ToArray());
                    }
                }
            }

            return (packets, counters);
        });

        Assert.Equal([1000, 1000, 1000, 500], packets.Select(p => p.Length - 28));
        Assert.Equal(payload, packets.SelectMany(p => p.Skip(28)).ToArray());
        Assert.All(packets, p => Assert.True(Checksum.TransportValid(p), "UDP checksum"));
        Assert.All(packets, p => Assert.Equal(0, Checksum.Internet(p.AsSpan(0, 20))));
        Assert.Equal(1, counters.GroBuffers);
    }

    [RootFact]
    public void Write_still_takes_a_plain_packet()
    {
        using var ns = new TestNamespace("qptun");
        var received = ns.Run(() =>
        {
            using var device = TunDevice.Create(Options);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.18.0.1"), 0));
            socket.ReceiveTimeout = 2000;
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            Assert.Equal(33, device.Write(TunDeviceTests.Ipv4Udp(IPAddress.Parse("198.18.0.9"), 4000, IPAddress.Parse("198.18.0.1"), port, "hello"u8)));

            var buffer = new byte[100];
            return buffer[..socket.Receive(buffer)];
        });

        Assert.Equal("hello"u8.ToArray(), received);
    }

    [RootFact]
    public void Read_refuses_a_buffer_that_cannot_hold_a_whole_frame()
    {
        using var ns = new TestNamespace("qptun");
        var error = ns.Run(() =>
        {
            using var device = TunDevice.Create(Options);
            return Assert.Throws<ArgumentException>(() => device.Read(new byte[device.Mtu]));
        });

        Assert.Contains("offloaded frame", error.Message, StringComparison.Ordinal);
    }
}
