using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace QuicPipe.Dataplane.Hosting.Internal;

/// <summary>
/// A TCP listener of a built server: starts its services, then binds and accepts (<see cref="TcpConnectionListener"/>),
/// each accepted connection reaching the listener's handler as a <see cref="SocketConnectionContext"/>; the socket is
/// published as <see cref="TcpTransport"/>. Stopping stops accepting and asks every handler to finish (waiting for them),
/// then stops the services.
/// </summary>
internal sealed class TcpListenerRuntime(TcpListenerBuilder builder, ListenerContext context, IReadOnlyList<IListenerService> services, ILogger logger)
    : ListenerRuntime(context, services, logger)
{
    private ConnectionDelegate? _handler;
    private TcpConnectionListener? _listener;

    /// <summary>Builds the listener's handler chain (at the server's Build, after its services were created).</summary>
    public void BuildHandler() => _handler = builder.BuildHandler(Context);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
        if (_handler is null)
        {
            return;
        }

        try
        {
            _listener = new TcpConnectionListener(builder.Endpoint, builder.Backlog, builder.MaxConnections, ServeAsync);
        }
        catch
        {
            await base.StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        Context.Features.Set(new TcpTransport(_listener));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _listener, null) is { } listener)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket client, CancellationToken stopping)
    {
        var connection = new SocketConnectionContext(client, stopping);
        await using (connection.ConfigureAwait(false))
        {
            await _handler!(connection).ConfigureAwait(false);
        }
    }
}
