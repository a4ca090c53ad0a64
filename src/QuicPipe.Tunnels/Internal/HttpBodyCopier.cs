using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Internal;

/// <summary>How <see cref="HttpBodyCopier.CopyAsync"/> ended.</summary>
internal enum HttpBodyCopy
{
    /// <summary>The whole body was passed on; bytes after it stay in the source.</summary>
    Done,

    /// <summary>The chunked framing was broken; nothing of the read that showed it was passed on.</summary>
    Invalid,

    /// <summary>The source ended before the body did.</summary>
    Truncated,
}

/// <summary>Where a body's bytes go: the tunnel stream (requests) or the client's socket (responses).</summary>
internal interface IHttpBodySink
{
    /// <summary>Completes once <paramref name="bytes"/> may be released (handed to the kernel or the stream's send buffer).</summary>
    ValueTask WriteAsync(ReadOnlySequence<byte> bytes, CancellationToken cancellationToken);
}

/// <summary>
/// Streams one message body from a pipe to a sink as it arrives, in the pipe's own pooled blocks: nothing is copied
/// on the way and nothing is held beyond what one read returned. The <see cref="HttpBodyFramer"/> says where the body
/// ends. Backpressure: the next read waits until the sink took the previous bytes.
/// </summary>
internal static class HttpBodyCopier
{
    /// <summary>
    /// Copies until the framer finds the end. Exceptions of the source and the sink pass through: the caller knows
    /// which side each one means.
    /// </summary>
    public static async Task<HttpBodyCopy> CopyAsync(PipeReader source, HttpBodyFramer framer, IHttpBodySink sink, CancellationToken cancellationToken)
    {
        if (!framer.HasBody)
        {
            return HttpBodyCopy.Done;
        }

        while (true)
        {
            var read = await source.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            var scan = framer.Scan(buffer, out var bodyBytes);
            if (scan == HttpBodyScan.Invalid)
            {
                // Not even the good bytes before the fault: the next hop would only answer a message already refused.
                source.AdvanceTo(buffer.Start);
                return HttpBodyCopy.Invalid;
            }

            var body = buffer.Slice(0, bodyBytes);
            if (!body.IsEmpty)
            {
                // Released (AdvanceTo) only once the sink is done with them: the blocks go back to the pool then.
                await sink.WriteAsync(body, cancellationToken).ConfigureAwait(false);
            }

            source.AdvanceTo(body.End);
            if (scan == HttpBodyScan.Done)
            {
                return HttpBodyCopy.Done;
            }

            if (read.IsCompleted)
            {
                return framer.EndsAtClose ? HttpBodyCopy.Done : HttpBodyCopy.Truncated;
            }
        }
    }
}

/// <summary>Body bytes into a tunnel stream: one stream write per pipe segment.</summary>
internal sealed class QuicStreamBodySink(QuicStream stream) : IHttpBodySink
{
    public async ValueTask WriteAsync(ReadOnlySequence<byte> bytes, CancellationToken cancellationToken)
    {
        foreach (var segment in bytes)
        {
            await stream.WriteAsync(segment, endStream: false, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Body bytes to the client's socket, a whole sequence in one gathering send.</summary>
internal sealed class SocketBodySink(Socket socket) : IHttpBodySink
{
    private readonly SocketSequenceSender _sender = new();

    public ValueTask WriteAsync(ReadOnlySequence<byte> bytes, CancellationToken cancellationToken) => _sender.SendAsync(socket, bytes, cancellationToken);
}
