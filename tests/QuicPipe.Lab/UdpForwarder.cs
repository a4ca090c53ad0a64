using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Lab;

/// <summary>
/// A UDP forwarder on loopback, standing in for a relay or a NAT: datagrams from the client to <see cref="FrontEndPoint"/>
/// go to the target from an upstream socket (<see cref="UpstreamEndPoint"/>, the address the target sees), and
/// answers go back to the client. <see cref="RebindUpstream"/> moves the upstream socket to a new port (a NAT
/// rebinding); <see cref="BlackHole"/> drops everything from then on.
/// </summary>
public sealed class UdpForwarder : IDisposable
{
    private readonly Socket _front;
    private readonly IPEndPoint _target;
    private readonly List<Thread> _threads = [];
    private volatile Socket _upstream;
    private volatile IPEndPoint? _client;
    private volatile bool _stopped;
    private long _forwarded;
    private long _fromClient;

    public UdpForwarder(IPEndPoint target)
    {
        _target = target;
        _front = Open();
        _upstream = Open();
        Start(() => PumpFront());
        var upstream = _upstream;
        Start(() => PumpUpstream(upstream));
    }

    public IPEndPoint FrontEndPoint => (IPEndPoint)_front.LocalEndPoint!;

    public IPEndPoint UpstreamEndPoint => (IPEndPoint)_upstream.LocalEndPoint!;

    /// <summary>Datagrams forwarded, both directions.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Datagrams that arrived from the client at <see cref="FrontEndPoint"/>, forwarded or not.</summary>
    public long ReceivedFromClient => Interlocked.Read(ref _fromClient);

    public bool BlackHole { get; set; }

    /// <summary>Sends on from a new upstream port, as a NAT does after it forgot the mapping.</summary>
    public void RebindUpstream()
    {
        var fresh = Open();
        var old = _upstream;
        _upstream = fresh;
        Start(() => PumpUpstream(fresh));
        old.Dispose();
    }

    public void Dispose()
    {
        _stopped = true;
        _front.Dispose();
        _upstream.Dispose();
        foreach (var thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }
    }

    private static Socket Open()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
        {
            ReceiveBufferSize = 4 * 1024 * 1024,
            SendBufferSize = 4 * 1024 * 1024,
        };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private void Start(Action pump)
    {
        var thread = new Thread(() => pump()) { IsBackground = true, Name = "udp forwarder" };
        _threads.Add(thread);
        thread.Start();
    }

    private void PumpFront()
    {
        var buffer = new byte[65536];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stopped)
        {
            int length;
            try
            {
                length = _front.ReceiveFrom(buffer, ref from);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stopped)
                {
                    return;
                }

                continue;
            }

            _client = (IPEndPoint)from;
            Interlocked.Increment(ref _fromClient);
            if (!BlackHole)
            {
                Send(() => _upstream, buffer.AsSpan(0, length), _target);
            }
        }
    }

    private void PumpUpstream(Socket upstream)
    {
        var buffer = new byte[65536];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stopped && upstream == _upstream)
        {
            int length;
            try
            {
                length = upstream.ReceiveFrom(buffer, ref from);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (e is ObjectDisposedException)
                {
                    return; // rebound: a newer pump owns the new socket
                }

                continue;
            }

            if (!BlackHole && _client is { } client)
            {
                Send(() => _front, buffer.AsSpan(0, length), client);
            }
        }
    }

    private void Send(Func<Socket> socket, ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        try
        {
            socket().SendTo(datagram, SocketFlags.None, to);
            Interlocked.Increment(ref _forwarded);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Lost, as on a real network; QUIC retransmits.
        }
    }
}
