using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Relay.Tests;

/// <summary>A loopback UDP receiver that keeps every datagram it gets, for byte-exact checks.</summary>
internal sealed class UdpSink : IDisposable
{
    private readonly Socket _socket;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public UdpSink(IPAddress address)
    {
        _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.ReceiveBufferSize = 8 * 1024 * 1024;
        _socket.ReceiveTimeout = 100;
        _socket.Bind(new IPEndPoint(address, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Receive) { IsBackground = true, Name = $"sink {EndPoint}" };
        _thread.Start();
    }

    public IPEndPoint EndPoint { get; }

    public ConcurrentQueue<byte[]> Received { get; } = new();

    /// <summary>Waits until at least <paramref name="count"/> datagrams arrived, or the timeout passed.</summary>
    public bool WaitFor(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Received.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            Thread.Sleep(5);
        }

        return true;
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }

    private void Receive()
    {
        var buffer = new byte[65536];
        while (!_stopping)
        {
            try
            {
                var n = _socket.Receive(buffer);
                Received.Enqueue(buffer[..n]);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
            }
        }
    }
}
