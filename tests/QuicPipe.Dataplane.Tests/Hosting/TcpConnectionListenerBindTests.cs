using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Hosting;

public class TcpConnectionListenerBindTests
{
    [Fact]
    public void A_port_in_use_names_the_address()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var taken = (IPEndPoint)holder.LocalEndPoint!;

        var error = Assert.Throws<SocketException>(() => new TcpConnectionListener(taken, 16, 16, (_, _) => Task.CompletedTask));

        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        Assert.Equal($"TCP 127.0.0.1:{taken.Port} is already in use (another process holds it)", error.Message);
    }
}
