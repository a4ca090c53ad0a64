using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>
/// Each way Create can fail gives the one line a command prints, and leaves nothing of its own behind: the name is
/// taken (by another kind of device, a TUN device quicpipe did not make, or a running quicpipe), the kernel refuses
/// an address or a route, TUN is missing, or the caller lacks CAP_NET_ADMIN. A leftover of ours is replaced.
/// </summary>
public class TunDeviceErrorTests
{
    [RootFact]
    public void A_device_of_another_kind_with_the_name_is_named_and_left_alone()
    {
        using var ns = new TestNamespace("qptun");
        ns.Ip("link", "add", "qp0", "type", "veth", "peer", "name", "qp0peer");

        var error = Assert.Throws<TunDeviceException>(() => ns.Run(() => TunDevice.Create(new TunDeviceOptions())));

        Assert.Equal("A network device named qp0 already exists and is not a TUN device (it is a veth device); remove it or choose another name.", error.Message);
        Assert.Equal("veth", ns.IpJson("-d", "link", "show", "dev", "qp0")[0].GetProperty("linkinfo").GetProperty("info_kind").GetString());
    }

    [RootFact]
    public void A_persistent_tun_device_quicpipe_did_not_make_is_refused_and_left_alone()
    {
        using var ns = new TestNamespace("qptun");
        ns.Ip("tuntap", "add", "mode", "tun", "name", "qp0");

        var error = Assert.Throws<TunDeviceException>(() => ns.Run(() => TunDevice.Create(new TunDeviceOptions())));

        Assert.Equal(
            "A TUN device named qp0 already exists that quicpipe did not create (its alias is not \"quicpipe vpn\"); remove it (ip link delete qp0) or choose another name.",
            error.Message);
        var link = ns.IpJson("-d", "link", "show", "dev", "qp0")[0];
        Assert.True(link.GetProperty("linkinfo").GetProperty("info_data").GetProperty("persist").GetBoolean());
        Assert.False(link.TryGetProperty("ifalias", out _));
    }

    [RootFact]
    public void A_tap_device_with_the_name_is_refused()
    {
        using var ns = new TestNamespace("qptun");
        ns.Ip("tuntap", "add", "mode", "tap", "name", "qp0");

        var error = Assert.Throws<TunDeviceException>(() => ns.Run(() => TunDevice.Create(new TunDeviceOptions())));

        Assert.Equal("A TAP device named qp0 already exists; remove it (ip link delete qp0) or choose another name.", error.Message);
        Assert.Contains("qp0", ns.LinkNames());
    }

    [RootFact]
    public void A_device_a_running_quicpipe_holds_is_refused_and_keeps_working()
    {
        using var ns = new TestNamespace("qptun");
        var options = new TunDeviceOptions { Addresses = [InterfaceAddress.Parse("198.18.0.1/24")] };
        using var first = ns.Run(() => TunDevice.Create(options));

        var error = Assert.Throws<TunDeviceException>(() => ns.Run(() => TunDevice.Create(options)));

        Assert.Equal("TUN device qp0 is in use by another running quicpipe; stop that one or choose another name.", error.Message);
        Assert.Equal(first.InterfaceIndex, ns.IpJson("link", "show", "dev", "qp0")[0].GetProperty("ifindex").GetInt32());
        var packet = TunDeviceTests.Ipv4Udp(IPAddress.Parse("198.18.0.2"), 4000, IPAddress.Parse("198.18.0.1"), 9, "x"u8);
        Assert.Equal(packet.Length, first.Write(packet));
    }

    [RootFact]
    public void A_leftover_of_an_earlier_quicpipe_is_replaced_and_logged()
    {
        using var ns = new TestNamespace("qptun");
        ns.Ip("tuntap", "add", "mode", "tun", "name", "qp0");
        ns.Ip("link", "set", "dev", "qp0", "alias", TunDevice.OwnerAlias);
        var leftoverIndex = ns.IpJson("link", "show", "dev", "qp0")[0].GetProperty("ifindex").GetInt32();
        var logger = new ListLogger();

        using var device = ns.Run(() => TunDevice.Create(new TunDeviceOptions(), logger));

        Assert.NotEqual(leftoverIndex, device.InterfaceIndex);
        var link = ns.IpJson("-d", "link", "show", "dev", "qp0")[0];
        Assert.Equal(device.InterfaceIndex, link.GetProperty("ifindex").GetInt32());
        Assert.False(link.GetProperty("linkinfo").GetProperty("info_data").GetProperty("persist").GetBoolean());
        var entry = Assert.Single(logger.Entries);
        Assert.Equal((LogLevel.Information, "replaced a leftover TUN device qp0 of an earlier quicpipe"), entry);
    }

    [RootFact]
    public void A_route_the_kernel_has_already_is_named_and_the_device_removed()
    {
        using var ns = new TestNamespace("qptun");
        ns.Ip("link", "add", "qpv0", "type", "veth", "peer", "name", "qpv1");
        ns.Ip("link", "set", "dev", "qpv0", "up");
        ns.Ip("route", "add", "198.18.5.0/24", "dev", "qpv0");
        var options = new TunDeviceOptions
        {
            Addresses = [InterfaceAddress.Parse("198.18.0.1/24")],
            Routes = [IPNetwork.Parse("198.18.9.0/24"), IPNetwork.Parse("198.18.5.0/24")],
        };

        var error = Assert.Throws<TunDeviceException>(() => ns.Run(() => TunDevice.Create(options)));

        Assert.Equal("Adding route 198.18.5.0/24 via TUN device qp0 failed: File exists.", error.Message);
        Assert.Equal(17, error.ErrorNumber);
        Assert.DoesNotContain("qp0", ns.LinkNames());
        Assert.DoesNotContain(ns.IpJson("-4", "route", "show").EnumerateArray(), r => r.GetProperty("dst").GetString() == "198.18.9.0/24");
    }

    [RootFact]
    public void An_address_the_kernel_refuses_is_named_and_the_device_removed()
    {
        using var ns = new TestNamespace("qptun");
        var options = new TunDeviceOptions
        {
            Addresses = [InterfaceAddress.Parse("198.18.0.1/24"), InterfaceAddress.Parse("198.18.0.1/24")],
        };

        var error = Assert.Throws<TunDeviceException>(() => ns.Run(() => TunDevice.Create(options)));

        // Newer kernels add why in their own words, "File exists (ipv4: Address already assigned)."
        Assert.StartsWith("Adding address 198.18.0.1/24 to TUN device qp0 failed: File exists", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("qp0", ns.LinkNames());
    }

    [RootFact]
    public void Without_cap_net_admin_the_message_says_root_is_needed()
    {
        using var ns = new TestNamespace("qptun");

        var error = Assert.Throws<TunDeviceException>(() => ns.Run(() =>
        {
            // Capabilities belong to a thread: this one, which ends with the call, gives up CAP_NET_ADMIN.
            Capabilities.DropEffective(Capabilities.NetAdmin);
            return TunDevice.Create(new TunDeviceOptions());
        }));

        Assert.Equal("Creating TUN device qp0 needs root or CAP_NET_ADMIN.", error.Message);
        Assert.Equal(1, error.ErrorNumber);
        Assert.DoesNotContain("qp0", ns.LinkNames());
    }

    [Fact]
    public void Without_the_tun_clone_device_the_message_says_tun_support_is_missing()
    {
        // Nothing is created: the look-up finds no such name and the open fails before TUNSETIFF.
        var options = new TunDeviceOptions
        {
            Name = $"qpt{Random.Shared.Next(100_000, 999_999)}",
            DevicePath = "/nonexistent/net/tun",
        };

        var error = Assert.Throws<TunDeviceException>(() => TunDevice.Create(options));

        Assert.Equal(
            $"Creating TUN device {options.Name} failed: /nonexistent/net/tun does not exist; this kernel has no TUN support or the tun module is not loaded (modprobe tun).",
            error.Message);
    }
}
