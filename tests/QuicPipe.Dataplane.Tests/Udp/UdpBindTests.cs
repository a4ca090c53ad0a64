using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
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

    [Fact]
    public void Ipv6_sockets_are_v6_only()
    {
        using var socket = UdpBatchSocket.Bind(Loopback.Any(AddressFamily.InterNetworkV6), Loopback.Options());

        Assert.Equal(1, GetInt(socket, SocketConstants.IpProtoIpv6, SocketConstants.Ipv6V6Only));
    }

    [Fact]
    public void Buffer_sizes_are_applied()
    {
        var options = Loopback.Options();
        options.ReceiveBufferBytes = 3 << 20;
        options.SendBufferBytes = 1 << 20;
        using var socket = UdpBatchSocket.Bind(Loopback.Any(), options);

        // The kernel doubles the value; without CAP_NET_ADMIN it is capped at net.core.[rw]mem_max instead.
        var expectRequested = Environment.UserName == "root";
        var receive = GetInt(socket, SocketConstants.SolSocket, SocketConstants.SoRcvbuf);
        var send = GetInt(socket, SocketConstants.SolSocket, SocketConstants.SoSndbuf);
        if (expectRequested)
        {
            Assert.Equal(2 * options.ReceiveBufferBytes, receive);
            Assert.Equal(2 * options.SendBufferBytes, send);
        }
        else
        {
            Assert.True(receive > 0 && send > 0);
        }
    }

    private static unsafe int GetInt(UdpBatchSocket socket, int level, int name)
    {
        var value = 0;
        var length = (uint)sizeof(int);
        Assert.Equal(0, Libc.GetSockOpt(socket.Handle, level, name, &value, &length));
        return value;
    }
}
