using System.Net;
using QuicPipe.Dataplane.Tun;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Tun;

public class TunDeviceOptionsTests
{
    [Fact]
    public void Defaults_are_qp0_with_mtu_1400_and_valid()
    {
        var options = new TunDeviceOptions();

        options.Validate();
        Assert.Equal("qp0", options.Name);
        Assert.Equal(1400, options.Mtu);
        Assert.Empty(options.Addresses);
        Assert.Empty(options.Routes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("qp0123456789abcd")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("a:b")]
    [InlineData("tun%d")]
    [InlineData("..")]
    [InlineData("qpé")]
    public void A_bad_name_is_refused_with_the_rule(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => new TunDeviceOptions { Name = name }.Validate());

        Assert.Equal("Name", error.ParamName);
        Assert.Contains(name.Length == 0 ? "needs a name" : "1 to 15 ASCII characters without '/', ':', '%' or whitespace", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fifteen_character_name_is_accepted()
    {
        new TunDeviceOptions { Name = "qp0123456789abc" }.Validate();
    }

    [Theory]
    [InlineData(575)]
    [InlineData(65536)]
    public void An_mtu_out_of_range_is_refused(int mtu)
    {
        var error = Assert.Throws<ArgumentException>(() => new TunDeviceOptions { Mtu = mtu }.Validate());

        Assert.Equal("Mtu", error.ParamName);
        Assert.StartsWith($"The MTU of TUN device qp0 must be between 576 and 65535; it is {mtu}.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ipv4_only_device_takes_mtu_576()
    {
        new TunDeviceOptions { Mtu = 576, Addresses = [InterfaceAddress.Parse("198.18.0.1/24")] }.Validate();
    }

    [Fact]
    public void An_ipv6_address_needs_mtu_1280()
    {
        var options = new TunDeviceOptions { Mtu = 1279, Addresses = [InterfaceAddress.Parse("198.18.0.1/24"), InterfaceAddress.Parse("fd00::1/64")] };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.StartsWith("The MTU of TUN device qp0 is 1279, but the IPv6 address fd00::1/64 needs at least 1280.", error.Message, StringComparison.Ordinal);
        options.Mtu = 1280;
        options.Validate();
    }

    [Fact]
    public void An_ipv6_route_needs_mtu_1280()
    {
        var options = new TunDeviceOptions { Mtu = 1000, Routes = [IPNetwork.Parse("fd00:99::/64")] };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.StartsWith("The MTU of TUN device qp0 is 1000, but the IPv6 route fd00:99::/64 needs at least 1280.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_address_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new TunDeviceOptions { Addresses = [default] }.Validate());

        Assert.Equal("Addresses", error.ParamName);
    }

    [Fact]
    public void Create_validates_before_touching_the_kernel()
    {
        Assert.Throws<ArgumentException>(() => TunDevice.Create(new TunDeviceOptions { Name = "a b" }));
    }
}
