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

        Assert.Equal($"UDP 127.0.0.1:{first.LocalAddress.Port} is already in use (another process holds it)", error.Message);
        Assert.Equal(98, error.ErrorNumber); // EADDRINUSE
        Assert.True(error.AddressInUse);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_listener_refuses_a_port_held_by_a_reuseport_socket_of_the_same_user(int threads)
    {
        // What a second relay meets: the first one's SO_REUSEPORT socket, of the same uid, which the kernel lets any
        // reuseport socket join (With_ReusePort_on_both_two_sockets_share_a_port), splitting the traffic between them.
        using var other = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        using var listener = new UdpListener(new UdpListenerOptions { Address = other.LocalAddress, Threads = threads, Socket = Loopback.Options() });

        var error = Assert.Throws<UdpSocketException>(listener.Bind);

        Assert.True(error.AddressInUse);
        Assert.Equal($"UDP 127.0.0.1:{other.LocalAddress.Port} is already in use (another process holds it)", error.Message);
        Assert.False(listener.IsBound);
    }

    [Fact]
    public void A_listener_on_a_free_port_binds_every_socket_of_its_group_there()
    {
        var port = new UdpListener(new UdpListenerOptions { Address = Loopback.Any(), Threads = 1, Socket = Loopback.Options() });
        port.Bind();
        var free = port.LocalAddress;
        port.Dispose();

        using var listener = new UdpListener(new UdpListenerOptions { Address = free, Threads = 3, Socket = Loopback.Options() });
        listener.Bind();

        // The claim (a socket without SO_REUSEPORT) is gone once bound: the group alone holds the port, and another
        // listener's claim on it is refused.
        Assert.Equal(free, listener.LocalAddress);
        using var second = new UdpListener(new UdpListenerOptions { Address = free, Threads = 3, Socket = Loopback.Options() });
        Assert.True(Assert.Throws<UdpSocketException>(second.Bind).AddressInUse);
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
