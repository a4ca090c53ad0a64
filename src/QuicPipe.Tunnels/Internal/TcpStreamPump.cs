using System.IO.Pipelines;
using System.Net.Sockets;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// Copies bytes both ways between a connected TCP socket and a QUIC stream until both directions have ended.
/// TCP FIN becomes QUIC FIN and back; a reset on either side resets the other. Backpressure: TCP is read only
/// once the previous chunk is in the stream's (bounded) send buffer, and stream bytes are consumed (which returns
/// flow-control credit to the peer) only after the TCP send of them completed.
/// </summary>
internal static class TcpStreamPump
{
    private enum Outcome
    {
        Done,
        TcpFailed,
        QuicFailed,
        Cancelled,
    }

    public static async Task RunAsync(Socket socket, QuicStream stream, int bufferSize, CancellationToken cancellationToken)
    {
        // The reader below only hands bytes to a non-blocking socket send, so it may run on the QUIC loop thread.
        stream.UnsafePreferInlineReads = true;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // Where the endpoint can, its loop thread reads the socket itself (no hand-over per read); else a copy loop.
        var feed = stream.TryFeedFrom(socket);
        var up = feed is null ? TcpToQuicAsync(socket, stream, bufferSize, stop.Token) : FeedAsync(feed, stop.Token);
        var down = QuicToTcpAsync(socket, stream.Input, stop.Token);
        var first = await Task.WhenAny(up, down).ConfigureAwait(false);
        var outcome = await first.ConfigureAwait(false);
        if (outcome == Outcome.Done)
        {
            outcome = await (first == up ? down : up).ConfigureAwait(false);
        }

        if (outcome != Outcome.Done)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            var code = outcome switch
            {
                Outcome.Cancelled => TunnelErrorCodes.TunnelClosing,
                _ => TunnelErrorCodes.TcpReset,
            };
            await AbortQuietlyAsync(stream, code).ConfigureAwait(false);

            if (feed is not null)
            {
                // The loop must be done with the socket before it closes (the cancellation above stops the feed).
                await up.ConfigureAwait(false);
            }

            Reset(socket);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        else
        {
            socket.Dispose();
        }

        await stream.Input.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Closes with RST (SO_LINGER 0) so the TCP peer sees a reset, not an orderly end.</summary>
    public static void Reset(Socket socket) => QuicPipe.Dataplane.TcpConnectionListener.Reset(socket);

    public static async Task AbortQuietlyAsync(QuicStream stream, long code)
    {
        try
        {
            await stream.AbortAsync(code, QuicAbortDirection.Both).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or QuicStreamAbortedException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private static async Task<Outcome> FeedAsync(QuicSocketFeed feed, CancellationToken cancellationToken)
    {
        QuicSocketFeedEnd end;
        using (cancellationToken.Register(static state => ((QuicSocketFeed)state!).Stop(), feed))
        {
            end = await feed.Completion.ConfigureAwait(false);
        }

        return end switch
        {
            QuicSocketFeedEnd.SocketEnded => Outcome.Done,
            QuicSocketFeedEnd.SocketFailed => Outcome.TcpFailed,
            QuicSocketFeedEnd.StreamFailed => Outcome.QuicFailed,
            _ => Outcome.Cancelled,
        };
    }

    private static async Task<Outcome> TcpToQuicAsync(Socket socket, QuicStream stream, int bufferSize, CancellationToken cancellationToken)
    {
        var buffer = new TcpReadBuffer(bufferSize);
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer.Memory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                return Outcome.TcpFailed;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return Outcome.Cancelled;
            }

            try
            {
                if (read == 0)
                {
                    await stream.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
                    return Outcome.Done;
                }

                await stream.WriteAsync(buffer.Memory[..read], endStream: false, cancellationToken).ConfigureAwait(false);
                buffer.Grow(read);
            }
            catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException)
            {
                return Outcome.QuicFailed;
            }
            catch (OperationCanceledException)
            {
                return Outcome.Cancelled;
            }
        }
    }

    private static async Task<Outcome> QuicToTcpAsync(Socket socket, PipeReader input, CancellationToken cancellationToken)
    {
        var sender = new SocketSequenceSender();
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException)
            {
                return Outcome.QuicFailed;
            }
            catch (OperationCanceledException)
            {
                return Outcome.Cancelled;
            }

            var buffer = result.Buffer;
            try
            {
                await sender.SendAsync(socket, buffer, cancellationToken).ConfigureAwait(false);

                if (result.IsCompleted)
                {
                    socket.Shutdown(SocketShutdown.Send);
                    return Outcome.Done;
                }
            }
            catch (SocketException)
            {
                return Outcome.TcpFailed;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return Outcome.Cancelled;
            }
            finally
            {
                input.AdvanceTo(buffer.End);
            }
        }
    }
}
