using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace QuicPipe.Tunnels.Tests;

/// <summary>A response as the client read it: the head as text, the body decoded from its framing.</summary>
internal sealed record RawResponse(string Head, byte[] Body)
{
    public int Status => int.Parse(Head.AsSpan(9, 3), CultureInfo.InvariantCulture);

    /// <summary>The first value of a field, or null.</summary>
    public string? Header(string name)
    {
        foreach (var line in Head.Split("\r\n").Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }
}

/// <summary>
/// One client connection to the HTTP proxy that writes requests as raw bytes and reads responses by their framing
/// (Content-Length, chunked, or to the close), so a test controls and sees every byte on the wire, keep-alive included.
/// </summary>
internal sealed class RawHttpClient(Socket socket) : IDisposable
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public Socket Socket => socket;

    public static async Task<RawHttpClient> ConnectAsync(IPEndPoint proxy, CancellationToken cancellationToken) =>
        new(await TunnelFixture.ConnectTcpAsync(proxy, cancellationToken));

    public Task SendAsync(string text, CancellationToken cancellationToken) => SendAsync(Encoding.Latin1.GetBytes(text), cancellationToken);

    public async Task SendAsync(byte[] bytes, CancellationToken cancellationToken) => await socket.SendAsync(bytes, SocketFlags.None, cancellationToken);

    /// <summary>Reads one response; <paramref name="headRequest"/>: it has no body whatever it says.</summary>
    public async Task<RawResponse> ReadResponseAsync(CancellationToken cancellationToken, bool headRequest = false)
    {
        var head = await ReadHeadAsync(cancellationToken);
        var response = new RawResponse(head, []);
        if (head.Length == 0 || headRequest || response.Status is < 200 or 204 or 304)
        {
            return response;
        }

        using var body = new MemoryStream();
        if (string.Equals(response.Header("Transfer-Encoding"), "chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var sizeLine = (await ReadLineAsync(cancellationToken))!;
                var size = int.Parse(sizeLine.Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while ((await ReadLineAsync(cancellationToken))!.Length > 0)
                    {
                    }

                    break;
                }

                body.Write(await ReadExactlyAsync(size, cancellationToken));
                await ReadLineAsync(cancellationToken);
            }
        }
        else if (response.Header("Content-Length") is { } length)
        {
            body.Write(await ReadExactlyAsync(int.Parse(length, CultureInfo.InvariantCulture), cancellationToken));
        }
        else
        {
            while (await FillAsync(cancellationToken))
            {
            }

            body.Write(_buffer, _start, _end - _start);
            _start = _end;
        }

        return response with { Body = body.ToArray() };
    }

    /// <summary>Reads the next head (up to the empty line); empty when the proxy closed first.</summary>
    public async Task<string> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var head = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken, allowEnd: true);
            if (line is null)
            {
                return head.ToString();
            }

            head.Append(line).Append("\r\n");
            if (line.Length == 0)
            {
                return head.ToString();
            }
        }
    }

    /// <summary>True when the proxy closed the connection (FIN or reset) with nothing more to read.</summary>
    public async Task<bool> IsClosedAsync(CancellationToken cancellationToken) => _start == _end && !await FillAsync(cancellationToken);

    public void Dispose() => socket.Dispose();

    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken, bool allowEnd = false)
    {
        while (true)
        {
            var crlf = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (crlf >= 0)
            {
                var line = Encoding.Latin1.GetString(_buffer, _start, crlf);
                _start += crlf + 2;
                return line;
            }

            if (!await FillAsync(cancellationToken))
            {
                return allowEnd ? null : throw new EndOfStreamException("the proxy closed in the middle of a line");
            }
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                throw new EndOfStreamException($"the proxy closed after {filled} of {count} body bytes");
            }

            var take = Math.Min(count - filled, _end - _start);
            _buffer.AsSpan(_start, take).CopyTo(result.AsSpan(filled));
            _start += take;
            filled += take;
        }

        return result;
    }

    /// <summary>Reads more into the buffer; false at the end of the connection.</summary>
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidOperationException("a response line or close-delimited body larger than the test client's buffer");
        }

        int read;
        try
        {
            read = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        }
        catch (SocketException)
        {
            return false;
        }

        _end += read;
        return read > 0;
    }
}
