using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

/// <summary>
/// SendTo with a TTL (hop limit) of the datagram's own: the control message is one the kernel takes for each family
/// (a malformed one is refused with EINVAL), the datagram arrives byte-exact, and the range is checked. That the TTL
/// takes effect on the wire is what the NAT lab shows (a TTL-2 probe passes one router and expires at the next).
/// </summary>
public class UdpHopLimitTests
{
    [Theory]
    [InlineData(AddressFamily.InterNetwork, 1)]
    [InlineData(AddressFamily.InterNetwork, 255)]
    [InlineData(AddressFamily.InterNetworkV6, 2)]
    public void A_datagram_with_its_own_hop_limit_arrives_byte_exact(AddressFamily family, int hopLimit)
    {
        using var sender = UdpBatchSocket.Bind(Loopback.Any(family), Loopback.Options());
        using var receiver = Loopback.PlainSocket(family);
        var payload = Loopback.Datagram(7, 300);

        Assert.Equal(payload.Length, sender.SendTo(payload, Loopback.AddressOf(receiver), hopLimit));

        var buffer = new byte[2048];
        var received = receiver.Receive(buffer);
        Assert.Equal(payload, buffer[..received]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    public void A_hop_limit_outside_1_to_255_is_refused(int hopLimit)
    {
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        using var receiver = Loopback.PlainSocket();
        Assert.Throws<ArgumentOutOfRangeException>(() => sender.SendTo(new byte[1], Loopback.AddressOf(receiver), hopLimit));
    }
}
