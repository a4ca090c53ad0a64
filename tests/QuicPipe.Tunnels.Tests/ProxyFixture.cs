using System.Net;
using System.Net.Sockets;
using System.Text;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// A <see cref="TunnelFixture"/> (exposer on the server connection) plus a <see cref="PeerTunnelConnector"/> whose
/// dial returns the fixture's client connection (or what <c>dial</c> says), and the two proxies on it.
/// </summary>
internal sealed class ProxyFixture : IAsyncDisposable
{
    private ProxyFixture(TunnelFixture tunnel, PeerTunnelConnector connector, HttpProxy http, Socks5Proxy socks)
    {
        Tunnel = tunnel;
        Connector = connector;
        Http = http;
        Socks = socks;
    }

    public TunnelFixture Tunnel { get; }

    public PeerTunnelConnector Connector { get; }

    public HttpProxy Http { get; }

    public Socks5Proxy Socks { get; }

    /// <summary>The exposing peer's host name.</summary>
    public string PeerHost => PeerHostName.Format(Tunnel.Client.RemoteNodeId!.Value);

    public static async Task<ProxyFixture> StartAsync(
        Action<TcpExposerOptions> expose,
        CancellationToken cancellationToken,
        Action<ProxyOptions>? configure = null,
        Func<NodeId, CancellationToken, Task<QuicConnection>>? dial = null,
        TimeSpan? connectTimeout = null)
    {
        var tunnel = await TunnelFixture.StartAsync(expose, cancellationToken);
        var options = new ProxyOptions();
        configure?.Invoke(options);
        var connector = new PeerTunnelConnector(
            dial ?? ((_, _) => Task.FromResult(tunnel.Client)),
            new PeerTunnelConnectorOptions { ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(20) });
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        return new ProxyFixture(tunnel, connector, HttpProxy.Start(connector, loopback, options), Socks5Proxy.Start(connector, loopback, options));
    }

    /// <summary>
    /// Sends <paramref name="head"/> to the HTTP proxy and reads the response head (up to the empty line, or the end).
    /// <paramref name="receiveBufferSize"/>: as for <see cref="TunnelFixture.ConnectTcpAsync"/>.
    /// </summary>
    public async Task<(Socket Socket, string Head)> HttpAsync(string head, CancellationToken cancellationToken, int receiveBufferSize = 0)
    {
        var socket = await TunnelFixture.ConnectTcpAsync(Http.LocalEndPoint, cancellationToken, receiveBufferSize);
        await socket.SendAsync(Encoding.Latin1.GetBytes(head), SocketFlags.None, cancellationToken);
        return (socket, await ReadHeadAsync(socket, cancellationToken));
    }

    public string Connect(int port, string? extraHeaders = null) =>
        $"CONNECT {PeerHost}:{port} HTTP/1.1\r\nHost: {PeerHost}:{port}\r\n{extraHeaders}\r\n";

    /// <summary>Reads byte by byte so that nothing after the head is taken from the tunnel.</summary>
    public static async Task<string> ReadHeadAsync(Socket socket, CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(one, SocketFlags.None, cancellationToken);
            }
            catch (SocketException)
            {
                break;
            }

            if (read == 0)
            {
                break;
            }

            head.Add(one[0]);
        }

        return Encoding.Latin1.GetString([.. head]);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes; fewer if the proxy closed first.</summary>
    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken);
            }
            catch (SocketException)
            {
                break;
            }

            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return buffer[..filled];
    }

    /// <summary>The SOCKS5 CONNECT request for <paramref name="host"/>:<paramref name="port"/> (domain-name address).</summary>
    public static byte[] SocksConnect(string host, int port, byte command = Socks5Request.CommandConnect)
    {
        var name = Encoding.ASCII.GetBytes(host);
        return [5, command, 0, 3, (byte)name.Length, .. name, (byte)(port >> 8), (byte)port];
    }

    /// <summary>
    /// Greets without authentication, sends <paramref name="request"/>, returns the socket and the 10-byte reply.
    /// <paramref name="receiveBufferSize"/>: as for <see cref="TunnelFixture.ConnectTcpAsync"/>.
    /// </summary>
    public async Task<(Socket Socket, byte[] Reply)> SocksAsync(byte[] request, CancellationToken cancellationToken, int receiveBufferSize = 0)
    {
        var socket = await TunnelFixture.ConnectTcpAsync(Socks.LocalEndPoint, cancellationToken, receiveBufferSize);
        await socket.SendAsync(new byte[] { 5, 1, 0 }, SocketFlags.None, cancellationToken);
        var method = await ReadExactlyAsync(socket, 2, cancellationToken);
        if (method is not [5, 0])
        {
            return (socket, method);
        }

        await socket.SendAsync(request, SocketFlags.None, cancellationToken);
        return (socket, await ReadExactlyAsync(socket, 10, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        await Http.DisposeAsync();
        await Socks.DisposeAsync();
        await Connector.DisposeAsync();
        await Tunnel.DisposeAsync();
    }
}
