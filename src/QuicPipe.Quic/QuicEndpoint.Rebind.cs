using QuicPipe.Dataplane;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>Moving the endpoint to a fresh UDP socket (a new local port) and its client connections with it.</summary>
public sealed partial class QuicEndpoint
{
    /// <summary>
    /// Replaces the UDP socket with a new one on the same address and a new ephemeral port, and migrates every
    /// client connection to it (RFC 9000 §9.2): each switches at once, with a fresh CID of its peer's, and validates
    /// the new path; the peer follows. Streams survive: packets lost in the switch are retransmitted. Completes once
    /// every connection's peer answered on the new port (<see cref="QuicConnection.PathChanged"/> with
    /// <see cref="QuicPathChangeReason.Migrated"/> on each). <see cref="LocalEndPoint"/> is the new address.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The endpoint has incoming (server) connections, which a server cannot migrate and would cut off; or it runs
    /// on a socket it shares (<see cref="Attach"/>) and does not own.
    /// </exception>
    /// <exception cref="QuicConnectionException">A connection could not migrate or its new path failed validation.</exception>
    public async Task RebindAsync(CancellationToken cancellationToken = default)
    {
        var migrations = await InvokeAsync(() => Rebind(cancellationToken), cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(migrations).ConfigureAwait(false);
    }

    /// <summary>Loop thread: swaps the socket, then starts each client connection's migration.</summary>
    private Task[] Rebind(CancellationToken cancellationToken)
    {
        if (_port is not SocketDatagramPort { OwnsSocket: true } old)
        {
            throw new InvalidOperationException("The endpoint runs on a socket it does not own (QuicEndpoint.Attach, or a server's UDP listener), which it cannot replace.");
        }

        var servers = _connections.Count(c => c.IsServer);
        if (servers > 0)
        {
            throw new InvalidOperationException($"The endpoint has {servers} incoming connection(s); only client connections can move to a new local port.");
        }

        // Same address and socket options as Bind's socket; the kernel picks the new port.
        var oldLocal = old.LocalAddress;
        var socket = UdpBatchSocket.Bind(PeerAddress.Create(oldLocal.RawFamily, oldLocal.AddressBytes, 0), new UdpSocketOptions { ReusePort = false, ReceiveTimeout = MaxWait });
        _port = new SocketDatagramPort(socket, ownsSocket: true);
        old.Dispose();

        var migrations = new List<Task>();
        foreach (var connection in _connections)
        {
            if (!connection.IsTerminated)
            {
                migrations.Add(connection.MoveToLocalAddress(socket.LocalAddress, cancellationToken));
            }
        }

        return [.. migrations];
    }
}
