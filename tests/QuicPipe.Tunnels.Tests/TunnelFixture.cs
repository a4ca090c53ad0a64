using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// A pinned QUIC client/server pair on loopback with a <see cref="TcpExposer"/> serving the server's connection and
/// a <see cref="TcpForwarder"/> per test on the client's connection.
/// </summary>
internal sealed class TunnelFixture : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _serving = Task.CompletedTask;

    private TunnelFixture(QuicEndpoint server, QuicEndpoint client, NodeIdentity clientIdentity, TcpExposerOptions options)
    {
        ServerEndpoint = server;
        ClientEndpoint = client;
        ClientIdentity = clientIdentity;
        Exposer = new TcpExposer(options);
    }

    public QuicEndpoint ServerEndpoint { get; }

    public QuicEndpoint ClientEndpoint { get; }

    public NodeIdentity ClientIdentity { get; }

    public QuicConnection Client { get; private set; } = null!;

    public QuicConnection Server { get; private set; } = null!;

    public TcpExposer Exposer { get; }

    public ConcurrentQueue<TunnelRejectedEventArgs> Rejections { get; } = new();

    public static async Task<TunnelFixture> StartAsync(Action<TcpExposerOptions> configure, CancellationToken cancellationToken)
    {
        var serverIdentity = NodeIdentity.Generate();
        var clientIdentity = NodeIdentity.Generate();
        var server = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions
        {
            Identity = serverIdentity,
            AcceptIncoming = true,
            ExpectedClient = clientIdentity.NodeId,
        });
        var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = clientIdentity });
        var options = new TcpExposerOptions();
        configure(options);
        var fixture = new TunnelFixture(server, client, clientIdentity, options);
        var accept = server.AcceptAsync(cancellationToken).AsTask();
        fixture.Client = await client.ConnectAsync(server.LocalEndPoint, new QuicClientConnectionOptions { ExpectedPeer = serverIdentity.NodeId }, cancellationToken);
        fixture.Server = await accept;
        fixture.Exposer.Rejected += (_, e) => fixture.Rejections.Enqueue(e);
        fixture._serving = fixture.Exposer.ServeAsync(fixture.Server, fixture._stop.Token);
        return fixture;
    }

    // Tunnel set-up includes waiting for a stream slot (the peer allows 256 at once): a thousand parallel
    // connections on a busy 2-core machine need more than 5 s for the last ones, and no test here waits on it.
    public TcpForwarder Forward(int targetPort, string? host = null) =>
        TcpForwarder.Start(Client, new IPEndPoint(IPAddress.Loopback, 0), new TcpForwarderOptions { TargetPort = targetPort, TargetHost = host, ConnectTimeout = TimeSpan.FromSeconds(20) });

    /// <param name="endPoint">Where to connect.</param>
    /// <param name="cancellationToken">Gives up the connect.</param>
    /// <param name="receiveBufferSize">SO_RCVBUF, set before the connect (which also stops the kernel growing it); 0: the kernel's.</param>
    public static async Task<Socket> ConnectTcpAsync(IPEndPoint endPoint, CancellationToken cancellationToken, int receiveBufferSize = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize > 0)
        {
            socket.ReceiveBufferSize = receiveBufferSize;
        }

        await socket.ConnectAsync(endPoint, cancellationToken);
        return socket;
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds. A proxy counts a connection as active until both halves of its
    /// tunnel have finished, which is a moment after the client's socket closes; asserting at once races that.
    /// </summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            if (cancellationToken.IsCancellationRequested)
            {
                Assert.Fail($"{what}: still not true when the test's time ran out.");
            }

            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>
    /// Connects to a forwarder that should refuse the tunnel and returns the reset it answers with. The forwarder
    /// accepts, hears the refusal over QUIC and resets; on a busy machine that can happen before the connecting
    /// thread sees its connect complete, and then the connect itself reports the reset.
    /// </summary>
    public static async Task<SocketException> ExpectResetAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return e;
        }

        return await Assert.ThrowsAsync<SocketException>(async () => await socket.ReceiveAsync(new byte[16], SocketFlags.None, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _serving;
        await Exposer.DisposeAsync();
        await ClientEndpoint.DisposeAsync();
        await ServerEndpoint.DisposeAsync();
        _stop.Dispose();
    }
}

/// <summary>A loopback TCP server: echoes everything, then at the client's FIN writes <see cref="Trailer"/> and closes.</summary>
internal sealed class EchoServer(bool readNothing = false) : LoopbackServer
{
    public static readonly byte[] Trailer = "<eof>"u8.ToArray();

    /// <summary>When set, accepted connections are not read until <see cref="StartReading"/>.</summary>
    public bool ReadNothing { get; } = readNothing;

    /// <summary>Client ports of the connections accepted (the exposer's source ports).</summary>
    public ConcurrentQueue<int> ClientPorts { get; } = new();

    private TaskCompletionSource Reading { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void StartReading() => Reading.TrySetResult();

    protected override async Task ServeAsync(Socket socket, CancellationToken stopping)
    {
        ClientPorts.Enqueue(((IPEndPoint)socket.RemoteEndPoint!).Port);
        if (ReadNothing)
        {
            await Reading.Task.WaitAsync(stopping);
        }

        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, stopping);
            if (read == 0)
            {
                await socket.SendAsync(Trailer, SocketFlags.None, stopping);
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, stopping);
        }
    }
}
