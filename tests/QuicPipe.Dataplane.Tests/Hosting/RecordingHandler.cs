using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Dataplane.Tests.Hosting;

/// <summary>
/// A handler that binds a real socket on its listener's first address (so a test can see whether anything is left
/// bound), writes what happens to it into a shared log, and throws at start when told to.
/// </summary>
internal sealed class RecordingHandler(string name, ListenerContext context, List<string> log, bool failStart = false) : IListenerHandler
{
    private Socket? _socket;

    public IPEndPoint? Bound { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var endpoint = context.Endpoints[0];
        _socket = context.Transport == ListenerTransport.Udp
            ? new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _socket.Bind(endpoint);
        Bound = (IPEndPoint)_socket.LocalEndPoint!;
        log.Add($"start {name}");
        if (failStart)
        {
            // Like a real handler, it releases what it bound before it throws.
            _socket.Dispose();
            _socket = null;
            throw new InvalidOperationException($"{name} refuses to start");
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        log.Add($"stop {name}");
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        log.Add($"dispose {name}");
        _socket?.Dispose();
        _socket = null;
        return ValueTask.CompletedTask;
    }
}
