using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// Sends a whole <see cref="ReadOnlySequence{T}"/> to a TCP socket in one gathering send call. A stream's received
/// bytes arrive as a chain of 16 KiB pool blocks; one send per block was a system call (and, on loopback, a pass
/// through the receiver's TCP stack) per 16 KiB.
/// </summary>
internal sealed class SocketSequenceSender
{
    // Reused across sends: one pump sends one sequence at a time.
    private readonly List<ArraySegment<byte>> _segments = [];

    public async ValueTask SendAsync(Socket socket, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsSingleSegment || !TryGather(buffer))
        {
            await SendEachAsync(socket, buffer, cancellationToken).ConfigureAwait(false);
            return;
        }

        // This overload takes no token, and must not be abandoned with WaitAsync: the caller returns the blocks to
        // the pool when this completes, and a send still running would read reused memory. A tunnel that stops
        // disposes the socket, which ends a pending send.
        int sent;
        try
        {
            sent = await socket.SendAsync(_segments, SocketFlags.None).ConfigureAwait(false);
        }
        finally
        {
            _segments.Clear();
        }

        // A stream socket's gathering send completes with everything sent; should it ever stop short, send the rest.
        if (sent < buffer.Length)
        {
            await SendEachAsync(socket, buffer.Slice(sent), cancellationToken).ConfigureAwait(false);
        }
    }

    private bool TryGather(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            if (!MemoryMarshal.TryGetArray(segment, out var array))
            {
                _segments.Clear();
                return false;
            }

            _segments.Add(array);
        }

        return true;
    }

    private static async ValueTask SendEachAsync(Socket socket, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        foreach (var segment in buffer)
        {
            var sent = 0;
            while (sent < segment.Length)
            {
                sent += await socket.SendAsync(segment[sent..], SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
