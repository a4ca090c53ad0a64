using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>
/// A real TUN device in a namespace of its own per test: what the kernel shows after Create (<c>ip -j</c>), packets
/// through it both ways, and what Dispose leaves.
/// </summary>
public class TunDeviceTests
{
    private static readonly TunDeviceOptions Options = new()
    {
        Addresses = [InterfaceAddress.Parse("198.18.0.1/24"), InterfaceAddress.Parse("fd00:64::1/64")],
        Routes = [IPNetwork.Parse("198.18.9.0/24"), IPNetwork.Parse("fd00:99::/64")],
        Mtu = 1400,
    };

    [RootFact]
    public void Create_sets_the_mtu_alias_and_up_flag()
    {
        using var ns = new TestNamespace("qptun");
        using var device = ns.Run(() => TunDevice.Create(Options));

        var link = ns.IpJson("link", "show", "dev", "qp0")[0];
        Assert.Equal(device.InterfaceIndex, link.GetProperty("ifindex").GetInt32());
        Assert.Equal(1400, link.GetProperty("mtu").GetInt32());
        Assert.Equal(4096, link.GetProperty("txqlen").GetInt32());
        Assert.Equal(1400, device.Mtu);
        Assert.Equal("qp0", device.Name);
        Assert.Contains("UP", link.GetProperty("flags").EnumerateArray().Select(flag => flag.GetString()));
        Assert.Equal(TunDevice.OwnerAlias, link.GetProperty("ifalias").GetString());

        var info = ns.IpJson("-d", "link", "show", "dev", "qp0")[0].GetProperty("linkinfo");
        Assert.Equal("tun", info.GetProperty("info_kind").GetString());
        Assert.Equal("tun", info.GetProperty("info_data").GetProperty("type").GetString());
        Assert.False(info.GetProperty("info_data").GetProperty("pi").GetBoolean());
        Assert.False(info.GetProperty("info_data").GetProperty("persist").GetBoolean());
    }

    [RootFact]
    public void Create_adds_every_address()
    {
        using var ns = new TestNamespace("qptun");
        using var device = ns.Run(() => TunDevice.Create(Options));

        var addresses = ns.IpJson("addr", "show", "dev", "qp0")[0].GetProperty("addr_info").EnumerateArray()
            .Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}")
            .ToList();
        Assert.Contains("198.18.0.1/24", addresses);
        Assert.Contains("fd00:64::1/64", addresses);
    }

    [RootFact]
    public void Create_routes_every_prefix_via_the_device()
    {
        using var ns = new TestNamespace("qptun");
        using var device = ns.Run(() => TunDevice.Create(Options));

        var v4 = ns.IpJson("-4", "route", "show", "dev", "qp0").EnumerateArray().ToList();
        var route = Assert.Single(v4, r => r.GetProperty("dst").GetString() == "198.18.9.0/24");
        Assert.Equal("static", route.GetProperty("protocol").GetString());
        Assert.Equal("link", route.GetProperty("scope").GetString());
        Assert.False(route.TryGetProperty("metric", out _), "metric 0 is shown as no metric");

        var v6 = ns.IpJson("-6", "route", "show", "dev", "qp0").EnumerateArray().ToList();
        var route6 = Assert.Single(v6, r => r.GetProperty("dst").GetString() == "fd00:99::/64");
        Assert.Equal("static", route6.GetProperty("protocol").GetString());

        // The kernel itself routes where each address is: the connected networks.
        Assert.Contains(v4, r => r.GetProperty("dst").GetString() == "198.18.0.0/24");
        Assert.Contains(v6, r => r.GetProperty("dst").GetString() == "fd00:64::/64");
    }

    [RootFact]
    public void Read_returns_an_ipv4_packet_the_kernel_routed_into_the_device()
    {
        using var ns = new TestNamespace("qptun");
        var packet = ns.Run(() =>
        {
            using var device = TunDevice.Create(Options);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo("ping"u8, new IPEndPoint(IPAddress.Parse("198.18.9.9"), 5000));
            return ReadUntil(device, p => p[0] >> 4 == 4);
        });

        Assert.Equal(4, packet[0] >> 4);
        Assert.Equal(17, packet[9]);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), new IPAddress(packet.AsSpan(12, 4)));
        Assert.Equal(IPAddress.Parse("198.18.9.9"), new IPAddress(packet.AsSpan(16, 4)));
        Assert.Equal(5000, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(22)));
        Assert.Equal("ping"u8.ToArray(), packet.AsSpan(28).ToArray());
    }

    [RootFact]
    public void Read_returns_an_ipv6_packet_the_kernel_routed_into_the_device()
    {
        using var ns = new TestNamespace("qptun");
        var packet = ns.Run(() =>
        {
            using var device = TunDevice.Create(Options);
            using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo("ping6"u8, new IPEndPoint(IPAddress.Parse("fd00:99::9"), 5000));

            // The link may also send its own IPv6 chatter (MLD, router solicitations): look for UDP.
            return ReadUntil(device, p => p[0] >> 4 == 6 && p[6] == 17);
        });

        Assert.Equal(IPAddress.Parse("fd00:64::1"), new IPAddress(packet.AsSpan(8, 16)));
        Assert.Equal(IPAddress.Parse("fd00:99::9"), new IPAddress(packet.AsSpan(24, 16)));
        Assert.Equal("ping6"u8.ToArray(), packet.AsSpan(48).ToArray());
    }

    [RootFact]
    public void Read_returns_zero_and_wait_says_false_when_nothing_is_queued()
    {
        using var ns = new TestNamespace("qptun");

        // No IPv6 on the link, so the kernel sends nothing of its own through it.
        NetworkLab.Run("ip", "netns", "exec", ns.Name, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1");
        var (waited, read) = ns.Run(() =>
        {
            using var device = TunDevice.Create(new TunDeviceOptions { Addresses = [InterfaceAddress.Parse("198.18.0.1/24")] });
            return (device.WaitReadable(100), device.Read(new byte[device.Mtu]));
        });

        Assert.False(waited);
        Assert.Equal(0, read);
    }

    [RootFact]
    public void Read_refuses_a_buffer_smaller_than_the_mtu()
    {
        using var ns = new TestNamespace("qptun");
        using var device = ns.Run(() => TunDevice.Create(Options));

        var error = Assert.Throws<ArgumentException>(() => device.Read(new byte[1399]));
        Assert.Contains("needs 1400 (the MTU)", error.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void Write_delivers_a_packet_to_a_socket_on_the_device_address()
    {
        using var ns = new TestNamespace("qptun");
        var (written, received, from) = ns.Run(() =>
        {
            using var device = TunDevice.Create(Options);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.18.0.1"), 0));
            socket.ReceiveTimeout = 2000;
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            var packet = Ipv4Udp(IPAddress.Parse("198.18.9.9"), 4000, IPAddress.Parse("198.18.0.1"), port, "hello"u8);
            var written = device.Write(packet);

            var buffer = new byte[100];
            EndPoint sender = new IPEndPoint(IPAddress.Any, 0);
            var length = socket.ReceiveFrom(buffer, ref sender);
            return (written, buffer[..length], (IPEndPoint)sender);
        });

        Assert.Equal(20 + 8 + 5, written);
        Assert.Equal("hello"u8.ToArray(), received);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.9.9"), 4000), from);
    }

    [RootFact]
    public void Write_of_a_malformed_packet_returns_zero_with_einval()
    {
        using var ns = new TestNamespace("qptun");
        using var device = ns.Run(() => TunDevice.Create(Options));

        // Version nibble 0: neither IPv4 nor IPv6.
        Assert.Equal(0, device.Write([0x00, 1, 2, 3], out var errno));
        Assert.Equal(22, errno);
        Assert.Equal(0, device.Write([]));
    }

    [RootFact]
    public void Read_write_and_wait_allocate_nothing()
    {
        using var ns = new TestNamespace("qptun");
        var allocated = ns.Run(() =>
        {
            using var device = TunDevice.Create(Options);
            var buffer = new byte[device.Mtu];
            var packet = Ipv4Udp(IPAddress.Parse("198.18.9.9"), 4000, IPAddress.Parse("198.18.0.1"), 9, "x"u8);
            return SteadyStateAllocation.Measure(() =>
            {
                for (var i = 0; i < 100; i++)
                {
                    device.Write(packet);
                    device.WaitReadable(0);
                    device.Read(buffer);
                }
            });
        });

        Assert.Equal(0, allocated);
    }

    [RootFact]
    public void Dispose_deletes_the_device_with_its_routes_and_is_idempotent()
    {
        using var ns = new TestNamespace("qptun");
        var device = ns.Run(() => TunDevice.Create(Options));
        Assert.Contains("qp0", ns.LinkNames());

        device.Dispose();
        device.Dispose();

        Assert.DoesNotContain("qp0", ns.LinkNames());
        Assert.DoesNotContain(ns.IpJson("-4", "route", "show").EnumerateArray(), r => r.GetProperty("dst").GetString() == "198.18.9.0/24");
        Assert.Throws<ObjectDisposedException>(() => device.Read(new byte[1400]));
    }

    [RootFact]
    public void Dispose_from_a_thread_outside_the_namespace_deletes_the_device()
    {
        using var ns = new TestNamespace("qptun");
        var device = ns.Run(() => TunDevice.Create(Options));

        // This thread is in the host namespace: the device is deleted where it lives, never here.
        device.Dispose();

        Assert.DoesNotContain("qp0", ns.LinkNames());
    }

    private static byte[] ReadUntil(TunDevice device, Func<byte[], bool> wanted)
    {
        var buffer = new byte[device.Mtu];
        var deadline = DateTime.UtcNow.AddSeconds(3);
        while (DateTime.UtcNow < deadline)
        {
            if (!device.WaitReadable(200))
            {
                continue;
            }

            var length = device.Read(buffer);
            if (length > 0 && wanted(buffer[..length]))
            {
                return buffer[..length];
            }
        }

        throw new TimeoutException("The expected packet did not come out of the TUN device within 3 s.");
    }

    /// <summary>An IPv4/UDP packet with a valid header checksum (UDP checksum 0: none, allowed over IPv4).</summary>
    internal static byte[] Ipv4Udp(IPAddress source, int sourcePort, IPAddress destination, int destinationPort, ReadOnlySpan<byte> payload)
    {
        var packet = new byte[20 + 8 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = 17;
        source.TryWriteBytes(packet.AsSpan(12, 4), out _);
        destination.TryWriteBytes(packet.AsSpan(16, 4), out _);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum.Internet(packet.AsSpan(0, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(20), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(22), (ushort)destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), (ushort)(8 + payload.Length));
        payload.CopyTo(packet.AsSpan(28));
        return packet;
    }
}
