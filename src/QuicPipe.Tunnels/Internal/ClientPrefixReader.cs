using System.Net.Sockets;

namespace QuicPipe.Tunnels.Internal;

/// <summary>A parser of one proxy protocol message at the start of <paramref name="data"/>.</summary>
internal delegate ProxyParseResult MessageParser<T>(ReadOnlySpan<byte> data, out T message, out int consumed);

/// <summary>
/// Reads a proxy client's negotiation messages into one fixed buffer: what bounds a request's size. Bytes received
/// after the last message (a client that sends data before our answer) stay in <see cref="Remaining"/> for the
/// tunnel, so nothing the client sent is lost.
/// </summary>
internal sealed class ClientPrefixReader(Socket client, int capacity)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _start;
    private int _end;

    /// <summary>Bytes received and not yet parsed.</summary>
    public ReadOnlyMemory<byte> Remaining => _buffer.AsMemory(_start, _end - _start);

    /// <summary>
    /// Reads until <paramref name="parse"/> has a whole message or rejects the bytes. <see cref="ClientReadResult.TooLarge"/>
    /// when the message does not fit in the buffer; <see cref="ClientReadResult.Closed"/> when the client ended (FIN or
    /// reset) before a whole message.
    /// </summary>
    public async Task<(ClientReadResult Result, T Message)> ReadAsync<T>(MessageParser<T> parse, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (parse(_buffer.AsSpan(_start, _end - _start), out var message, out var consumed))
            {
                case ProxyParseResult.Complete:
                    _start += consumed;
                    return (ClientReadResult.Complete, message);
                case ProxyParseResult.Invalid:
                    return (ClientReadResult.Invalid, default!);
            }

            if (_end == _buffer.Length)
            {
                if (_start == 0)
                {
                    return (ClientReadResult.TooLarge, default!);
                }

                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            int read;
            try
            {
                read = await client.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                return (ClientReadResult.Closed, default!);
            }

            if (read == 0)
            {
                return (ClientReadResult.Closed, default!);
            }

            _end += read;
        }
    }
}
