using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Lab;

/// <summary>
/// A loopback TCP port that refuses connections for as long as this object lives. The socket holds the port bound
/// but never listens, so a connect to it is reset. A port that was bound and at once freed is not enough: tests run
/// in parallel, and the kernel can hand the freed port to another test's server (a CI run once reached an HTTP
/// server through a "closed" port). A bound port is never given to another bind to port 0 or to an outgoing connect.
/// </summary>
public sealed class ClosedTcpPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public ClosedTcpPort()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public void Dispose() => _socket.Dispose();
}
