using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Vpn.Tests;

public class InterfaceAddressTests
{
    [Theory]
    [InlineData("100.64.0.1/24", "100.64.0.1", 24, "100.64.0.0/24")]
    [InlineData("100.64.0.1", "100.64.0.1", 32, "100.64.0.1/32")]
    [InlineData("fd00:64::1/64", "fd00:64::1", 64, "fd00:64::/64")]
    [InlineData("fd00:64::1", "fd00:64::1", 128, "fd00:64::1/128")]
    public void Keeps_the_host_bits_and_knows_its_subnet(string text, string address, int length, string subnet)
    {
        var parsed = InterfaceAddress.Parse(text);
        Assert.Equal(IPAddress.Parse(address), parsed.Address);
        Assert.Equal(length, parsed.PrefixLength);
        Assert.Equal(IpPrefix.Parse(subnet), parsed.Subnet);
        Assert.Equal(text.Contains('/', StringComparison.Ordinal) ? text : $"{text}/{length}", parsed.ToString());
        Assert.True(InterfaceAddress.TryParse(text, out var again));
        Assert.Equal(parsed, again);
    }

    [Theory]
    [InlineData("100.64.0.1/33")]
    [InlineData("fd00::1/129")]
    [InlineData("100.64.0.1/")]
    [InlineData("garbage")]
    [InlineData("100.64")]
    [InlineData("")]
    public void Refuses_what_is_not_an_address_and_length(string text)
    {
        Assert.False(InterfaceAddress.TryParse(text, out var address));
        Assert.Equal(default, address);
        var error = Assert.Throws<FormatException>(() => InterfaceAddress.Parse(text));
        Assert.Contains(text.Length == 0 ? "required" : text, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_constructor_checks_the_length_against_the_family()
    {
        Assert.Equal(AddressFamily.InterNetworkV6, new InterfaceAddress(IPAddress.Parse("fd00::1"), 64).AddressFamily);
        Assert.Throws<ArgumentOutOfRangeException>(() => new InterfaceAddress(IPAddress.Parse("10.0.0.1"), 33));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InterfaceAddress(IPAddress.Parse("10.0.0.1"), -1));
        Assert.Throws<ArgumentException>(() => new InterfaceAddress(IPAddress.Parse("fe80::1%2"), 64));
    }

    [Fact]
    public void Default_has_no_address()
    {
        InterfaceAddress none = default;
        Assert.Equal(AddressFamily.Unspecified, none.AddressFamily);
        Assert.Equal(default, none.Subnet);
        Assert.Equal(string.Empty, none.ToString());
    }
}
