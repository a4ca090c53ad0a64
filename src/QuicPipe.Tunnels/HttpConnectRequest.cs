using System.Globalization;
using System.Text;

namespace QuicPipe.Tunnels;

/// <summary>
/// An HTTP/1.x request head as far as a CONNECT proxy needs it (RFC 9110 section 9.3.6, RFC 9112): the method, the
/// target, and for CONNECT the target's host and port, plus any <c>Proxy-Authorization</c>. Other methods parse too
/// (so the proxy can answer 405 instead of 400). The parser is strict where leniency helps request smuggling: CRLF
/// line ends only, no folded header lines, no control bytes, exactly two spaces in the request line.
/// </summary>
public readonly record struct HttpConnectRequest
{
    public HttpConnectRequest(string method, string target, string? host, int port, string? proxyAuthorization)
    {
        Method = method;
        Target = target;
        Host = host;
        Port = port;
        ProxyAuthorization = proxyAuthorization;
    }

    public string Method { get; }

    /// <summary>The request target as sent (for CONNECT: <c>host:port</c>).</summary>
    public string Target { get; }

    /// <summary>For CONNECT: the target's host (an IPv6 literal without brackets); otherwise null.</summary>
    public string? Host { get; }

    /// <summary>For CONNECT: the target's port, 1-65535; otherwise 0.</summary>
    public int Port { get; }

    /// <summary>The first <c>Proxy-Authorization</c> header's value, or null.</summary>
    public string? ProxyAuthorization { get; }

    public bool IsConnect => Method == "CONNECT";

    /// <summary>
    /// Parses the request head at the start of <paramref name="data"/>, up to and including the empty line;
    /// <paramref name="consumed"/> is its length. Bytes after it are not looked at. Never throws on any input.
    /// </summary>
    public static ProxyParseResult TryParse(ReadOnlySpan<byte> data, out HttpConnectRequest request, out int consumed)
    {
        request = default;
        consumed = 0;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            // Reject garbage as soon as the request line shows it, not only when the buffer is full.
            var lineEnd = data.IndexOf("\r\n"u8);
            var firstLine = lineEnd >= 0 ? data[..lineEnd] : data;
            if (lineEnd < 0 && firstLine.EndsWith((byte)'\r'))
            {
                // The CR of the line's CRLF, its LF still on the way.
                firstLine = firstLine[..^1];
            }

            return IsRequestLinePrefix(firstLine) ? ProxyParseResult.Incomplete : ProxyParseResult.Invalid;
        }

        var head = data[..(end + 2)];
        var lineEndIndex = head.IndexOf("\r\n"u8);
        if (!TryParseRequestLine(head[..lineEndIndex], out var method, out var target, out var host, out var port))
        {
            return ProxyParseResult.Invalid;
        }

        string? authorization = null;
        var rest = head[(lineEndIndex + 2)..];
        while (!rest.IsEmpty)
        {
            var next = rest.IndexOf("\r\n"u8);
            if (!TryParseHeaderLine(rest[..next], out var name, out var value))
            {
                return ProxyParseResult.Invalid;
            }

            if (authorization is null && name.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase))
            {
                authorization = value;
            }

            rest = rest[(next + 2)..];
        }

        request = new HttpConnectRequest(method, target, host, port, authorization);
        consumed = end + 4;
        return ProxyParseResult.Complete;
    }

    private static bool TryParseRequestLine(ReadOnlySpan<byte> line, out string method, out string target, out string? host, out int port)
    {
        method = target = string.Empty;
        host = null;
        port = 0;
        var firstSpace = line.IndexOf((byte)' ');
        var lastSpace = line.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
        {
            return false;
        }

        var methodBytes = line[..firstSpace];
        var targetBytes = line[(firstSpace + 1)..lastSpace];
        var version = line[(lastSpace + 1)..];
        if (!IsToken(methodBytes) || !IsVisible(targetBytes) || !(version.SequenceEqual("HTTP/1.1"u8) || version.SequenceEqual("HTTP/1.0"u8)))
        {
            return false;
        }

        method = Encoding.ASCII.GetString(methodBytes);
        target = Encoding.ASCII.GetString(targetBytes);
        return method != "CONNECT" || TryParseAuthority(target, out host, out port);
    }

    /// <summary>authority-form: <c>host:port</c> or <c>[v6]:port</c>; the port is required.</summary>
    private static bool TryParseAuthority(string target, out string? host, out int port)
    {
        host = null;
        port = 0;
        var colon = target.LastIndexOf(':');
        if (colon <= 0)
        {
            return false;
        }

        var hostPart = target[..colon];
        if (hostPart.StartsWith('['))
        {
            if (!hostPart.EndsWith(']') || hostPart.Length < 3)
            {
                return false;
            }

            hostPart = hostPart[1..^1];
        }
        else if (hostPart.Contains(':', StringComparison.Ordinal) || hostPart.Contains('@', StringComparison.Ordinal))
        {
            return false;
        }

        var portText = target[(colon + 1)..];
        if (portText.Length is 0 or > 5 || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            port = 0;
            return false;
        }

        host = hostPart;
        return true;
    }

    private static bool TryParseHeaderLine(ReadOnlySpan<byte> line, out string name, out string value)
    {
        name = value = string.Empty;
        var colon = line.IndexOf((byte)':');
        if (colon <= 0 || !IsToken(line[..colon]))
        {
            // Also rejects obsolete line folding (a line starting with a space) and whitespace before the colon.
            return false;
        }

        var raw = line[(colon + 1)..].Trim(" \t"u8);
        foreach (var b in raw)
        {
            if (b is < 0x20 and not (byte)'\t' or 0x7F)
            {
                return false;
            }
        }

        name = Encoding.ASCII.GetString(line[..colon]);
        value = Encoding.Latin1.GetString(raw);
        return true;
    }

    /// <summary>Could <paramref name="partial"/> (no CRLF yet, or the whole first line) begin a request line?</summary>
    private static bool IsRequestLinePrefix(ReadOnlySpan<byte> partial)
    {
        var space = partial.IndexOf((byte)' ');
        if (space == 0)
        {
            return false;
        }

        var method = space < 0 ? partial : partial[..space];
        if (!IsToken(method) && !method.IsEmpty)
        {
            return false;
        }

        return space < 0 || IsVisibleOrSpace(partial[(space + 1)..]);
    }

    private static bool IsToken(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return false;
        }

        foreach (var b in bytes)
        {
            // RFC 9110 tchar.
            var ok = char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.Contains(b);
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsVisible(ReadOnlySpan<byte> bytes) => !bytes.IsEmpty && !bytes.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);

    private static bool IsVisibleOrSpace(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E);
}
