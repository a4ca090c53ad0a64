using System.Net;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>A TCP listener's bound socket, as the server publishes it in the listener's features once bound.</summary>
public sealed class TcpTransport
{
    private readonly TcpConnectionListener _listener;

    internal TcpTransport(TcpConnectionListener listener)
    {
        _listener = listener;
    }

    /// <summary>The bound address (the port the kernel chose for port 0).</summary>
    public IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    /// <summary>Connections accepted so far.</summary>
    public long Accepted => _listener.Accepted;

    /// <summary>Connections being served now.</summary>
    public int Active => _listener.Active;
}
