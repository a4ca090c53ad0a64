using System.Net;
using System.Net.Sockets;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Internal;

/// <summary>What both proxies do with a client once negotiation is over: tunnel it, or answer and close it.</summary>
internal static class ProxyConnection
{
    private static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Sends the success answer (<paramref name="established"/>), then what the client sent ahead of it
    /// (<paramref name="early"/>) into the stream, then copies both ways with <see cref="TcpStreamPump"/> (half-close,
    /// resets, backpressure) until the tunnel ends. A client or stream that fails on the way is reset.
    /// </summary>
    public static async Task TunnelAsync(Socket client, QuicStream stream, ReadOnlyMemory<byte> established, ReadOnlyMemory<byte> early, int bufferSize, CancellationToken cancellationToken)
    {
        try
        {
            await client.SendAsync(established, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            await AbandonAsync(client, stream, TunnelErrorCodes.TcpReset).ConfigureAwait(false);
            return;
        }

        try
        {
            if (!early.IsEmpty)
            {
                await stream.WriteAsync(early.ToArray(), endStream: false, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or QuicStreamAbortedException or QuicConnectionException)
        {
            await AbandonAsync(client, stream, e is OperationCanceledException ? TunnelErrorCodes.TunnelClosing : TunnelErrorCodes.TcpReset).ConfigureAwait(false);
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

    /// <summary>Resets the client's TCP connection and the stream both ways.</summary>
    private static async Task AbandonAsync(Socket client, QuicStream stream, long errorCode)
    {
        TcpStreamPump.Reset(client);
        await TcpStreamPump.AbortQuietlyAsync(stream, errorCode).ConfigureAwait(false);
        await stream.Input.CompleteAsync().ConfigureAwait(false);
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
