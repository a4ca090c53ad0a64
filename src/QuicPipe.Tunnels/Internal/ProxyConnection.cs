using System.Net;
using System.Net.Sockets;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Internal;

/// <summary>What both proxies do with a client once negotiation is over: tunnel it, or answer and close it.</summary>
internal static class ProxyConnection
{
    private static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Sends what the client sent ahead of our answer (<paramref name="early"/>) into the stream, then copies both
    /// ways with <see cref="TcpStreamPump"/> (half-close, resets, backpressure) until the tunnel ends.
    /// </summary>
    public static async Task TunnelAsync(Socket client, QuicStream stream, ReadOnlyMemory<byte> early, int bufferSize, CancellationToken cancellationToken)
    {
        try
        {
            if (!early.IsEmpty)
            {
                await stream.WriteAsync(early.ToArray(), endStream: false, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or QuicStreamAbortedException or QuicConnectionException)
        {
            TcpStreamPump.Reset(client);
            await TcpStreamPump.AbortQuietlyAsync(stream, e is OperationCanceledException ? TunnelErrorCodes.TunnelClosing : TunnelErrorCodes.TcpReset).ConfigureAwait(false);
            await stream.Input.CompleteAsync().ConfigureAwait(false);
            return;
        }

        await TcpStreamPump.RunAsync(client, stream, bufferSize, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a final answer and closes. The send side is shut first and unread input drained briefly: closing a
    /// socket with unread bytes makes the kernel send RST, which can destroy the answer before the client reads it.
    /// </summary>
    public static async Task AnswerAndCloseAsync(Socket client, ReadOnlyMemory<byte> answer, CancellationToken cancellationToken)
    {
        try
        {
            if (!answer.IsEmpty)
            {
                await client.SendAsync(answer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }

            client.Shutdown(SocketShutdown.Send);
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(DrainTime);
            var sink = new byte[4096];
            while (await client.ReceiveAsync(sink, SocketFlags.None, drain.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or kept sending: either way we are done with it.
        }

        client.Dispose();
    }

    /// <summary>The client's address for logs; null once the socket is gone.</summary>
    public static EndPoint? RemoteEndPointOf(Socket client)
    {
        try
        {
            return client.RemoteEndPoint;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
