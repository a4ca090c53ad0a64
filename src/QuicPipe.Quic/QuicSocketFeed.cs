using System.Net.Sockets;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic;

/// <summary>
/// A connected stream socket whose bytes a <see cref="QuicStream"/> sends, read by the endpoint's loop thread itself
/// (<see cref="QuicStream.TryFeedFrom"/>). Ends at the socket's end of stream, a socket error, the stream's write side
/// ending, or <see cref="Stop"/>.
/// </summary>
/// <remarks>
/// The loop waits on the socket in the same epoll set as its UDP socket, edge-triggered, and reads it only while the
/// stream's send buffer has room: a feed waits for acknowledgements exactly as a write does. The feed holds a
/// reference on the socket's handle until it ends, so its descriptor number cannot be reused under the loop.
/// </remarks>
public sealed class QuicSocketFeed
{
    private readonly QuicStream _stream;
    private readonly SafeSocketHandle _handle;
    private readonly int _descriptor;
    private readonly TaskCompletionSource<QuicSocketFeedEnd> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _ended;

    internal QuicSocketFeed(QuicStream stream, Socket socket)
    {
        _stream = stream;
        _handle = socket.SafeHandle;
        var added = false;
        _handle.DangerousAddRef(ref added);
        _descriptor = (int)_handle.DangerousGetHandle();
    }

    /// <summary>Completes (never fails) once the feed has ended and the loop no longer touches the socket.</summary>
    public Task<QuicSocketFeedEnd> Completion => _completion.Task;

    /// <summary>The stream the socket's bytes go to.</summary>
    public QuicStream Stream => _stream;

    internal SafeHandle Handle => _handle;

    /// <summary>Loop thread: the key the endpoint's epoll set reports the socket under (0 until watched).</summary>
    internal ulong Key { get; set; }

    /// <summary>Loop thread: the socket may have bytes (or an end) to read.</summary>
    internal bool Readable { get; set; }

    /// <summary>Ends the feed (any thread); the socket's unread bytes stay in it. Then wait for <see cref="Completion"/>.</summary>
    public void Stop()
    {
        try
        {
            _stream.Connection.PostOrThrow(() => End(QuicSocketFeedEnd.Stopped));
        }
        catch (ObjectDisposedException)
        {
            // No loop any more: nobody else can be touching the socket.
            End(QuicSocketFeedEnd.Stopped);
        }
    }

    /// <summary>
    /// Loop thread: reads into the stream's send buffer while the socket has bytes and the buffer has room. True while
    /// it waits for room (acknowledgements); false once the socket is drained or the feed ended.
    /// </summary>
    internal unsafe bool Drain(SafeQuicConnectionHandle connection, int sendBuffer, ref ulong unacked, byte[] scratch)
    {
        while (Readable && Volatile.Read(ref _ended) == 0)
        {
            var room = unacked < (ulong)sendBuffer ? (int)Math.Min((ulong)sendBuffer - unacked, (ulong)scratch.Length) : 0;
            if (room == 0)
            {
                return true;
            }

            nint read;
            fixed (byte* p = scratch)
            {
                read = Libc.RecvFromDescriptor(_descriptor, p, (nuint)room, SocketConstants.MsgDontWait);
                if (read > 0)
                {
                    var rv = QuicShim.ConnStreamWrite(connection, _stream.Id, p, (nuint)read, 0);
                    if (rv != 0)
                    {
                        _stream.FailWrites(new QuicConnectionException($"Cannot write to stream {_stream.Id}: {QuicShim.Describe(rv)}") { NativeError = rv });
                        return false;
                    }

                    // Read on until EAGAIN, even after a short read: TCP may return less than it holds, and the
                    // edge-triggered set does not report bytes that were there at the last edge (nor the end).
                    unacked += (ulong)read;
                    continue;
                }
            }

            if (read == 0)
            {
                var rv = QuicShim.ConnStreamWrite(connection, _stream.Id, null, 0, 1);
                End(rv == 0 ? QuicSocketFeedEnd.SocketEnded : QuicSocketFeedEnd.StreamFailed);
                return false;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EAGAIN)
            {
                Readable = false;
            }
            else if (errno != Errno.EINTR)
            {
                End(QuicSocketFeedEnd.SocketFailed);
                return false;
            }
        }

        return false;
    }

    /// <summary>Loop thread (or no loop any more): stops watching and reading the socket, once.</summary>
    internal void End(QuicSocketFeedEnd end)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        _stream.Connection.Endpoint.Unwatch(this);
        _stream.OnFeedEnded(this, end);
        _handle.DangerousRelease();
        _completion.TrySetResult(end);
    }
}
