using System.Net;
using System.Net.Sockets;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

public class IpPrefixTests
{
    [Theory]
    [InlineData("100.64.0.2/32", "100.64.0.2", 32, AddressFamily.InterNetwork)]
    [InlineData("10.9.0.0/16", "10.9.0.0", 16, AddressFamily.InterNetwork)]
    [InlineData("0.0.0.0/0", "0.0.0.0", 0, AddressFamily.InterNetwork)]
    [InlineData("fd00:64::2/128", "fd00:64::2", 128, AddressFamily.InterNetworkV6)]
    [InlineData("fd00:64::/32", "fd00:64::", 32, AddressFamily.InterNetworkV6)]
    [InlineData("::/0", "::", 0, AddressFamily.InterNetworkV6)]
    public void Parses_a_prefix(string text, string network, int length, AddressFamily family)
    {
        var prefix = IpPrefix.Parse(text);
        Assert.Equal(IPAddress.Parse(network), prefix.Network);
        Assert.Equal(length, prefix.PrefixLength);
        Assert.Equal(family, prefix.AddressFamily);
        Assert.Equal(text, prefix.ToString());
        Assert.True(IpPrefix.TryParse(text, out var again));
        Assert.Equal(prefix, again);
    }

    [Theory]
    [InlineData("100.64.0.2", "100.64.0.2/32")]
    [InlineData("fd00:64::2", "fd00:64::2/128")]
    [InlineData("FD00:0064:0000::0002/128", "fd00:64::2/128")]
    public void A_bare_address_is_a_host_prefix(string text, string expected)
    {
        Assert.Equal(expected, IpPrefix.Parse(text).ToString());
    }

    [Theory]
    [InlineData("10.9.0.1/16", "10.9.0.0/16")]
    [InlineData("100.64.0.2/24", "100.64.0.0/24")]
    [InlineData("fd00:64::2/64", "fd00:64::/64")]
    [InlineData("1.0.0.0/0", "0.0.0.0/0")]
    public void Host_bits_are_refused_and_the_message_names_the_network(string text, string network)
    {
        Assert.False(IpPrefix.TryParse(text, out var prefix));
        Assert.Equal(default, prefix);
        var error = Assert.Throws<FormatException>(() => IpPrefix.Parse(text));
        Assert.Contains("host bits", error.Message, StringComparison.Ordinal);
        Assert.Contains(network, error.Message, StringComparison.Ordinal);
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/+8")]
    [InlineData("10.0.0.0/ 8")]
    [InlineData("10.0.0.0/8 ")]
    [InlineData("10.0.0.0/1000")]
    [InlineData("10.0.0.0/8/8")]
    [InlineData("10.0.0.0/x")]
    public void A_bad_length_is_refused(string text)
    {
        Assert.False(IpPrefix.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => IpPrefix.Parse(text));
        Assert.Contains("prefix length", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("/8")]
    [InlineData("10")]
    [InlineData("10.1")]
    [InlineData("10.1.2")]
    [InlineData("010.0.0.1")]
    [InlineData("0x0a.0.0.1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("256.0.0.0/8")]
    [InlineData(" 10.0.0.0/8")]
    [InlineData("[::1]/128")]
    [InlineData("[::1]:80")]
    [InlineData("fe80::1%2/128")]
    [InlineData("fd00::g/64")]
    public void Garbage_is_refused(string text)
    {
        Assert.False(IpPrefix.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => IpPrefix.Parse(text));
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_is_refused()
    {
        Assert.False(IpPrefix.TryParse(null, out _));
    }

    [Theory]
    [InlineData("10.9.0.0/16", "10.9.0.0", true)]
    [InlineData("10.9.0.0/16", "10.9.255.255", true)]
    [InlineData("10.9.0.0/16", "10.10.0.0", false)]
    [InlineData("10.9.0.0/16", "10.8.255.255", false)]
    [InlineData("100.64.0.2/32", "100.64.0.2", true)]
    [InlineData("100.64.0.2/32", "100.64.0.3", false)]
    [InlineData("0.0.0.0/0", "203.0.113.7", true)]
    [InlineData("128.0.0.0/1", "127.255.255.255", false)]
    [InlineData("128.0.0.0/1", "128.0.0.0", true)]
    [InlineData("fd00:64::/64", "fd00:64::ffff:1", true)]
    [InlineData("fd00:64::/64", "fd00:64:0:1::", false)]
    [InlineData("fd00:64::2/128", "fd00:64::2", true)]
    [InlineData("fd00:64::2/128", "fd00:64::3", false)]
    [InlineData("::/0", "2001:db8::1", true)]
    [InlineData("0.0.0.0/0", "::", false)]
    [InlineData("::/0", "10.0.0.1", false)]
    [InlineData("::ffff:0:0/96", "10.0.0.1", false)]
    public void Contains_tests_a_raw_address(string prefix, string address, bool expected)
    {
        Assert.Equal(expected, IpPrefix.Parse(prefix).Contains(Address(address)));
    }

    [Fact]
    public void An_address_of_any_other_length_is_not_contained()
    {
        var prefix = IpPrefix.Parse("0.0.0.0/0");
        Assert.False(prefix.Contains([]));
        Assert.False(prefix.Contains([10, 0, 0]));
        Assert.False(prefix.Contains([10, 0, 0, 1, 0]));
    }

    [Fact]
    public void Default_is_no_prefix_and_contains_nothing()
    {
        IpPrefix none = default;
        Assert.Equal(AddressFamily.Unspecified, none.AddressFamily);
        Assert.False(none.Contains(Address("0.0.0.0")));
        Assert.False(none.Contains(Address("::")));
        Assert.Equal(string.Empty, none.ToString());
    }

    [Fact]
    public void The_constructor_refuses_host_bits_and_bad_lengths()
    {
        Assert.Equal(IpPrefix.Parse("10.9.0.0/16"), new IpPrefix(IPAddress.Parse("10.9.0.0"), 16));
        var error = Assert.Throws<ArgumentException>(() => new IpPrefix(IPAddress.Parse("10.9.0.1"), 16));
        Assert.Contains("10.9.0.1/16", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new IpPrefix(IPAddress.Parse("10.9.0.0"), 33));
        Assert.Throws<ArgumentException>(() => new IpPrefix(IPAddress.Parse("10.9.0.0"), -1));
        Assert.Throws<ArgumentException>(() => new IpPrefix(IPAddress.Parse("fe80::1%3"), 128));
    }

    [Fact]
    public void Equality_is_by_family_network_and_length()
    {
        Assert.True(IpPrefix.Parse("10.0.0.0/8") == IpPrefix.Parse("10.0.0.0/8"));
        Assert.True(IpPrefix.Parse("10.0.0.0/8") != IpPrefix.Parse("10.0.0.0/9"));
        Assert.True(IpPrefix.Parse("0.0.0.0/0") != IpPrefix.Parse("::/0"));
        Assert.True(IpPrefix.Parse("0.0.0.0/0") != default);
        Assert.Equal(IpPrefix.Parse("fd00::/8").GetHashCode(), IpPrefix.Parse("fd00::/8").GetHashCode());
    }
}
