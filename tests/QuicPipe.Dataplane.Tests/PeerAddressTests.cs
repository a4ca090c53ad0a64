using System.Net;
using Xunit;

namespace QuicPipe.Dataplane.Tests;

public class PeerAddressTests
{
    [Theory]
    [InlineData("192.0.2.7", 4433)]
    [InlineData("2001:db8::17", 65535)]
    [InlineData("fe80::1%3", 1)]
    public void Create_from_parts_equals_the_endpoint_form_and_round_trips(string ip, int port)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(ip), port);
        var fromEndPoint = PeerAddress.FromEndPoint(endPoint);

        var scope = fromEndPoint.IsIPv6 ? (uint)endPoint.Address.ScopeId : 0;
        var fromParts = PeerAddress.Create(fromEndPoint.RawFamily, fromEndPoint.AddressBytes, port, scope);

        Assert.Equal(fromEndPoint.Raw.ToArray(), fromParts.Raw.ToArray());
        Assert.Equal(endPoint.Address.GetAddressBytes(), fromParts.AddressBytes.ToArray());
        Assert.Equal(endPoint, fromParts.ToEndPoint());
    }

    [Fact]
    public void Create_refuses_unknown_families_wrong_lengths_and_bad_ports()
    {
        Assert.Throws<ArgumentException>(() => PeerAddress.Create(1, new byte[4], 1));
        Assert.Throws<ArgumentException>(() => PeerAddress.Create(PeerAddress.AfInet, new byte[16], 1));
        Assert.Throws<ArgumentException>(() => PeerAddress.Create(PeerAddress.AfInet6, new byte[4], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PeerAddress.Create(PeerAddress.AfInet, new byte[4], 65536));
        Assert.Throws<ArgumentOutOfRangeException>(() => PeerAddress.Create(PeerAddress.AfInet, new byte[4], -1));
    }

    [Fact]
    public void An_empty_address_has_no_address_bytes()
    {
        Assert.True(default(PeerAddress).AddressBytes.IsEmpty);
    }
}
