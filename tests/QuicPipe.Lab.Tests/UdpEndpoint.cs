using System.Net;
using System.Net.Sockets;
using System.Text;

namespace QuicPipe.Lab.Tests;

/// <summary>A UDP socket inside one lab host, sending and receiving short text datagrams.</summary>
internal sealed class UdpEndpoint : IDisposable
{
    /// <summary>Long enough for a datagram across two namespaces on a busy 2-core machine.</summary>
    public static readonly TimeSpan Arrives = TimeSpan.FromSeconds(3);

    /// <summary>How long silence must last before a datagram counts as dropped.</summary>
    public static readonly TimeSpan Dropped = TimeSpan.FromMilliseconds(400);

    private readonly Socket _socket;

    public UdpEndpoint(NatLab lab, LabHost host, IPAddress address, int port)
    {
        _socket = lab.OpenUdp(host, new IPEndPoint(address, port));
        Local = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint Local { get; }

    public void Send(IPEndPoint to, string text) => _socket.SendTo(Encoding.ASCII.GetBytes(text), to);

    /// <summary>Sends with IP TTL <paramref name="ttl"/>, then puts the socket's TTL back to the system default (64).</summary>
    public void Send(IPEndPoint to, string text, short ttl)
    {
        _socket.Ttl = ttl;
        try
        {
            Send(to, text);
        }
        finally
        {
            _socket.Ttl = 64;
        }
    }

    /// <summary>The next datagram and its sender, or null if none came within <paramref name="timeout"/>.</summary>
    public (string Text, IPEndPoint From)? TryReceive(TimeSpan timeout)
    {
        var buffer = new byte[1500];
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var result = _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancel.Token)
                .AsTask().GetAwaiter().GetResult();
            return (Encoding.ASCII.GetString(buffer, 0, result.ReceivedBytes), (IPEndPoint)result.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The next datagram; fails the test if none arrives in time.</summary>
    public (string Text, IPEndPoint From) Receive() =>
        TryReceive(Arrives) ?? throw new Xunit.Sdk.XunitException($"{Local}: no datagram within {Arrives.TotalSeconds} s");

    public void Dispose() => _socket.Dispose();
}
