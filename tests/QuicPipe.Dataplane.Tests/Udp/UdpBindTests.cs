using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

public class UdpBindTests
{
    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public void Port_zero_binds_an_ephemeral_port_reported_by_LocalAddress(AddressFamily family)
    {
        using var socket = UdpBatchSocket.Bind(Loopback.Any(family), Loopback.Options());

        Assert.NotEqual(0, socket.LocalAddress.Port);
        var expected = family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback;
        Assert.Equal(expected, socket.LocalAddress.ToEndPoint().Address);
    }

    [Fact]
    public void Binding_a_port_in_use_without_ReusePort_names_the_address_and_the_error()
    {
        using var first = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        var options = Loopback.Options();
        options.ReusePort = false;

        var error = Assert.Throws<UdpSocketException>(() => UdpBatchSocket.Bind(first.LocalAddress, options));

        Assert.Equal($"bind 127.0.0.1:{first.LocalAddress.Port}: Address already in use", error.Message);
        Assert.Equal(98, error.ErrorNumber); // EADDRINUSE
    }

    [Fact]
    public void With_ReusePort_on_both_two_sockets_share_a_port()
    {
        using var first = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        using var second = UdpBatchSocket.Bind(first.LocalAddress, Loopback.Options());

        Assert.Equal(first.LocalAddress, second.LocalAddress);
    }

    [Fact]
    public void Offloads_stay_off_when_not_requested()
    {
        using var socket = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: false, gso: false));

        Assert.False(socket.GroActive);
        Assert.False(socket.GsoActive);
    }
}
