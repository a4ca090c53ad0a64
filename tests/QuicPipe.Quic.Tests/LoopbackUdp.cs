using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Quic.Tests;

internal static class LoopbackUdp
{
    /// <summary>A UDP socket bound to 127.0.0.1 on a free port: a stranger that sends, or an address where nobody answers.</summary>
    public static Socket Bind()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }
}
