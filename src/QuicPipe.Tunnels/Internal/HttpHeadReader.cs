using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// Reads one HTTP head (request or response) from a <see cref="PipeReader"/>, bounded: the parser sees at most
/// <c>maxBytes</c>, and a head not complete within them is <see cref="ClientReadResult.TooLarge"/>. Bytes after the
/// head stay in the reader for the body or the next message. One reader per connection direction, reused.
/// </summary>
internal sealed class HttpHeadReader(int maxBytes) : IDisposable
{
    // A head split across pipe segments is copied here to be parsed as one span; rented once per connection.
    private byte[]? _scratch;

    /// <summary>Bytes waiting in the pipe when the last read returned: 0 means the peer sent nothing of a next head.</summary>
    public long Buffered { get; private set; }

    public async ValueTask<(ClientReadResult Result, T Head)> ReadAsync<T>(PipeReader input, MessageParser<T> parse, CancellationToken cancellationToken)
    {
        Buffered = 0;
        while (true)
        {
            ReadResult read;
            try
            {
                read = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                // The client's connection was reset.
                return (ClientReadResult.Closed, default!);
            }

            var buffer = read.Buffer;
            Buffered = buffer.Length;
            var window = buffer.Length > maxBytes ? buffer.Slice(0, maxBytes) : buffer;
            switch (parse(Flatten(window), out var head, out var consumed))
            {
                case ProxyParseResult.Complete:
                    input.AdvanceTo(buffer.GetPosition(consumed));
                    return (ClientReadResult.Complete, head);
                case ProxyParseResult.Invalid:
                    input.AdvanceTo(buffer.Start);
                    return (ClientReadResult.Invalid, default!);
            }

            if (buffer.Length >= maxBytes || read.IsCompleted)
            {
                input.AdvanceTo(buffer.Start);
                return (read.IsCompleted ? ClientReadResult.Closed : ClientReadResult.TooLarge, default!);
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public void Dispose()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }

    private ReadOnlySpan<byte> Flatten(ReadOnlySequence<byte> window)
    {
        if (window.IsSingleSegment)
        {
            return window.FirstSpan;
        }

        _scratch ??= ArrayPool<byte>.Shared.Rent(maxBytes);
        window.CopyTo(_scratch);
        return _scratch.AsSpan(0, (int)window.Length);
    }
}
