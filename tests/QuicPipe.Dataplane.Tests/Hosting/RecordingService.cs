using System.Net.Sockets;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Dataplane.Tests.Hosting;

/// <summary>
/// A listener service that writes what happens to it into a shared log and throws at start when told to. On a TCP
/// listener it binds the listener's address itself (as the TCP services do), so a test can see whether anything is
/// left bound; on a UDP listener the server has bound the sockets, and it checks they are there when it starts.
/// </summary>
internal sealed class RecordingService(string name, ListenerContext context, List<string> log, bool failStart = false) : IListenerService
{
    private Socket? _socket;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (context.Transport == ListenerTransport.Udp)
        {
            var transport = context.Features.Get<UdpTransport>() ?? throw new InvalidOperationException("started before the UDP sockets were bound");
            if (transport.LocalAddresses.Any(a => a.Port == 0))
            {
                throw new InvalidOperationException("the UDP transport has no bound port");
            }
        }
        else
        {
            var endpoint = context.Endpoints[0];
            _socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            _socket.Bind(endpoint);
        }

        log.Add($"start {name}");
        if (failStart)
        {
            // Like a real service, it releases what it bound before it throws.
            _socket?.Dispose();
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
