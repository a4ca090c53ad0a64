using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;

namespace QuicPipe.Protocol;

/// <summary>
/// How control messages sit on a stream: each is a varint length (protobuf's base-128 encoding, at most
/// <see cref="MaxMessageSize"/>) followed by that many bytes of the protobuf message. Nothing else.
/// </summary>
public static class ControlFraming
{
    /// <summary>Largest message body either side accepts (64 KiB): bounds what a peer can make us buffer.</summary>
    public const int MaxMessageSize = 64 * 1024;

    /// <summary>A length of up to <see cref="MaxMessageSize"/> takes at most 3 varint bytes.</summary>
    private const int MaxPrefixLength = 3;

    /// <summary>Writes one framed message into <paramref name="writer"/> (a pipe's, or a buffer) without flushing.</summary>
    /// <exception cref="ControlProtocolException">The message is larger than <see cref="MaxMessageSize"/>.</exception>
    public static void Write(IBufferWriter<byte> writer, IMessage message)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(message);
        var size = message.CalculateSize();
        if (size > MaxMessageSize)
        {
            throw new ControlProtocolException($"A control message of {size} bytes exceeds the {MaxMessageSize}-byte limit.");
        }

        var prefix = VarintLength((uint)size);
        var span = writer.GetSpan(prefix + size);
        WriteVarint(span, (uint)size);
        message.WriteTo(span.Slice(prefix, size));
        writer.Advance(prefix + size);
    }

    /// <summary>Writes one framed message and flushes it.</summary>
    public static async ValueTask WriteAsync(PipeWriter writer, IMessage message, CancellationToken cancellationToken)
    {
        Write(writer, message);
        var flushed = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flushed.IsCanceled)
        {
            throw new OperationCanceledException("The control stream's flush was cancelled.", cancellationToken);
        }
    }

    /// <summary>
    /// Reads the next message, or null when the stream ended cleanly between messages.
    /// </summary>
    /// <exception cref="ControlProtocolException">
    /// The stream ended inside a message, a frame announced more than <see cref="MaxMessageSize"/> bytes
    /// (both fatal), or a whole frame did not parse as <typeparamref name="T"/> (recoverable).
    /// </exception>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader reader, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(parser);
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadFrame(buffer, out var payload, out var frameEnd))
            {
                try
                {
                    return parser.ParseFrom(payload);
                }
                catch (InvalidProtocolBufferException e)
                {
                    throw new ControlProtocolException($"A {payload.Length}-byte control frame is not a valid {typeof(T).Name}: {e.Message}", e) { IsRecoverable = true };
                }
                finally
                {
                    reader.AdvanceTo(frameEnd);
                }
            }

            if (result.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start);
                throw new OperationCanceledException("The control stream's read was cancelled.");
            }

            if (result.IsCompleted)
            {
                var left = buffer.Length;
                reader.AdvanceTo(buffer.End);
                if (left == 0)
                {
                    return null;
                }

                throw new ControlProtocolException($"The control stream ended inside a message ({left} byte(s) of an incomplete frame).");
            }

            // Everything examined, nothing consumed: wake up when more bytes arrive.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Finds the first whole frame in <paramref name="buffer"/>: its body and where it ends. False while the
    /// frame is incomplete. Throws as soon as the length prefix says the frame is too large.
    /// </summary>
    public static bool TryReadFrame(in ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload, out SequencePosition frameEnd)
    {
        payload = default;
        frameEnd = buffer.Start;
        var reader = new SequenceReader<byte>(buffer);
        uint length = 0;
        for (var i = 0; ; i++)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }

            length |= (uint)(b & 0x7f) << (7 * i);
            if (length > MaxMessageSize || (i == MaxPrefixLength - 1 && (b & 0x80) != 0))
            {
                throw new ControlProtocolException($"A control frame announces more than the {MaxMessageSize}-byte limit.");
            }

            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        if (reader.Remaining < length)
        {
            return false;
        }

        payload = buffer.Slice(reader.Position, length);
        frameEnd = payload.End;
        return true;
    }

    private static int VarintLength(uint value) => value < 1 << 7 ? 1 : value < 1 << 14 ? 2 : 3;

    private static void WriteVarint(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i] = (byte)value;
    }
}
