using System.Net;
using QuicPipe.Dataplane.Tun;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Tun;

public class InterfaceAddressTests
{
    [Theory]
    [InlineData("100.64.0.1/24", "100.64.0.1", 24)]
    [InlineData("198.18.0.0/32", "198.18.0.0", 32)]
    [InlineData("fd00:64::1/64", "fd00:64::1", 64)]
    [InlineData("fd00::1/128", "fd00::1", 128)]
    [InlineData("10.0.0.1/0", "10.0.0.1", 0)]
    public void Parse_keeps_the_host_bits_and_the_prefix(string text, string address, int prefixLength)
    {
        var parsed = InterfaceAddress.Parse(text);

        Assert.Equal(IPAddress.Parse(address), parsed.Address);
        Assert.Equal(prefixLength, parsed.PrefixLength);
        Assert.Equal(text, parsed.ToString());
        Assert.Equal(parsed, InterfaceAddress.Parse(parsed.ToString()));
        Assert.True(InterfaceAddress.TryParse(text, out var tried));
        Assert.Equal(parsed, tried);
    }

    [Theory]
    [InlineData("100.64.0.1", "has no prefix length")]
    [InlineData("100.64.0.1/33", "the prefix length 33 is outside 0..32")]
    [InlineData("fd00::1/129", "the prefix length 129 is outside 0..128")]
    [InlineData("fe80::1%2/64", "names a zone")]
    [InlineData("host/24", "does not start with an IPv4 or IPv6 address")]
    [InlineData("100.64.0.1/", "no valid prefix length")]
    [InlineData("100.64.0.1/-1", "no valid prefix length")]
    [InlineData("100.64.0.1/ 24", "no valid prefix length")]
    [InlineData(" ", "is empty")]
    public void Parse_says_what_is_wrong(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => InterfaceAddress.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.False(InterfaceAddress.TryParse(text, out _));
    }

    [Fact]
    public void The_constructor_checks_the_prefix_against_the_family()
    {
        Assert.Throws<ArgumentException>(() => new InterfaceAddress(IPAddress.Loopback, 33));
        Assert.Equal(32, new InterfaceAddress(IPAddress.Loopback, 32).PrefixLength);
    }

    [Fact]
    public void Equal_addresses_with_other_prefixes_differ()
    {
        Assert.NotEqual(InterfaceAddress.Parse("10.0.0.1/24"), InterfaceAddress.Parse("10.0.0.1/16"));
        Assert.True(InterfaceAddress.Parse("10.0.0.1/24") == InterfaceAddress.Parse("10.0.0.1/24"));
        Assert.False(InterfaceAddress.TryParse(null, out _));
    }
}
