using System.Globalization;
using System.Text;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>
/// An HTTP/1.x request head as a proxy sees it (RFC 9112 section 3): the method, the target in its form, the host,
/// port and path the target names, the version and every field line. The parser is strict where leniency helps
/// request smuggling: CRLF line ends only, no folded header lines, no control bytes, exactly two spaces in the
/// request line. It checks syntax only; what the fields mean (framing, hop-by-hop) is the forwarder's business.
/// </summary>
public readonly record struct HttpProxyRequest
{
    public HttpProxyRequest(string method, string target, HttpTargetForm form, string? host, int port, string path, bool isHttp11, IReadOnlyList<HttpHeaderField> headers)
    {
        Method = method;
        Target = target;
        Form = form;
        Host = host;
        Port = port;
        Path = path;
        IsHttp11 = isHttp11;
        Headers = headers;
    }

    public string Method { get; }

    /// <summary>The request target as sent.</summary>
    public string Target { get; }

    public HttpTargetForm Form { get; }

    /// <summary>For CONNECT and absolute-form: the target's host (an IPv6 literal without brackets); otherwise null.</summary>
    public string? Host { get; }

    /// <summary>For CONNECT and absolute-form: the target's port, 1-65535 (80 when an http:// URL names none); otherwise 0.</summary>
    public int Port { get; }

    /// <summary>For origin-form and absolute-form: the path and query (<c>/</c> when a URL has none); otherwise empty.</summary>
    public string Path { get; }

    /// <summary>HTTP/1.1; false for HTTP/1.0.</summary>
    public bool IsHttp11 { get; }

    /// <summary>Every field line, in order.</summary>
    public IReadOnlyList<HttpHeaderField> Headers { get; }

    public bool IsConnect => Method == "CONNECT";

    /// <summary>The first <c>Proxy-Authorization</c> header's value, or null.</summary>
    public string? ProxyAuthorization => FirstValue("Proxy-Authorization");

    /// <summary>The first value of the field <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? FirstValue(string name)
    {
        foreach (var field in Headers ?? [])
        {
            if (field.Is(name))
            {
                return field.Value;
            }
        }

        return null;
    }

    /// <summary>
    /// Parses the request head at the start of <paramref name="data"/>, up to and including the empty line;
    /// <paramref name="consumed"/> is its length. Bytes after it are not looked at. Never throws on any input.
    /// </summary>
    public static ProxyParseResult TryParse(ReadOnlySpan<byte> data, out HttpProxyRequest request, out int consumed)
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
        if (!TryParseRequestLine(head[..lineEndIndex], out var line) || !HttpSyntax.TryParseFields(head[(lineEndIndex + 2)..], out var fields))
        {
            return ProxyParseResult.Invalid;
        }

        request = new HttpProxyRequest(line.Method, line.Target, line.Form, line.Host, line.Port, line.Path, line.IsHttp11, fields);
        consumed = end + 4;
        return ProxyParseResult.Complete;
    }

    private readonly record struct RequestLine(string Method, string Target, HttpTargetForm Form, string? Host, int Port, string Path, bool IsHttp11);

    private static bool TryParseRequestLine(ReadOnlySpan<byte> bytes, out RequestLine line)
    {
        line = default;
        var firstSpace = bytes.IndexOf((byte)' ');
        var lastSpace = bytes.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
        {
            return false;
        }

        var methodBytes = bytes[..firstSpace];
        var targetBytes = bytes[(firstSpace + 1)..lastSpace];
        var version = bytes[(lastSpace + 1)..];
        var isHttp11 = version.SequenceEqual("HTTP/1.1"u8);
        if (!HttpSyntax.IsToken(methodBytes) || !HttpSyntax.IsVisible(targetBytes) || !(isHttp11 || version.SequenceEqual("HTTP/1.0"u8)))
        {
            return false;
        }

        var method = Encoding.ASCII.GetString(methodBytes);
        var target = Encoding.ASCII.GetString(targetBytes);
        if (method == "CONNECT")
        {
            if (!TryParseAuthority(target, defaultPort: 0, out var connectHost, out var connectPort))
            {
                return false;
            }

            line = new RequestLine(method, target, HttpTargetForm.Authority, connectHost, connectPort, string.Empty, isHttp11);
            return true;
        }

        if (target == "*")
        {
            line = new RequestLine(method, target, HttpTargetForm.Asterisk, null, 0, string.Empty, isHttp11);
            return method == "OPTIONS";
        }

        if (target.StartsWith('/'))
        {
            line = new RequestLine(method, target, HttpTargetForm.Origin, null, 0, target, isHttp11);
            return !target.Contains('#', StringComparison.Ordinal);
        }

        if (!TryParseHttpUrl(target, out var host, out var port, out var path))
        {
            return false;
        }

        line = new RequestLine(method, target, HttpTargetForm.Absolute, host, port, path, isHttp11);
        return true;
    }

    /// <summary>
    /// absolute-form with the http scheme: <c>http://host[:port][/path][?query]</c> (RFC 9112 section 3.2.2).
    /// Userinfo is refused (RFC 9110 section 4.2.4), and so is a fragment (never part of a request target).
    /// </summary>
    private static bool TryParseHttpUrl(string target, out string? host, out int port, out string path)
    {
        const string Scheme = "http://";
        host = null;
        port = 0;
        path = string.Empty;
        if (!target.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || target.Contains('#', StringComparison.Ordinal))
        {
            return false;
        }

        var rest = target[Scheme.Length..];
        var pathStart = rest.IndexOfAny(['/', '?']);
        var authority = pathStart < 0 ? rest : rest[..pathStart];
        path = pathStart < 0 ? "/" : rest[pathStart] == '?' ? "/" + rest[pathStart..] : rest[pathStart..];
        return TryParseAuthority(authority, defaultPort: 80, out host, out port);
    }

    /// <summary><c>host:port</c> or <c>[v6]:port</c>; without <paramref name="defaultPort"/> (0) the port is required.</summary>
    private static bool TryParseAuthority(string authority, int defaultPort, out string? host, out int port)
    {
        host = null;
        port = 0;
        var closeBracket = authority.LastIndexOf(']');
        var colon = authority.LastIndexOf(':');
        if (colon < closeBracket)
        {
            colon = -1;
        }

        var hostPart = colon < 0 ? authority : authority[..colon];
        var portText = colon < 0 ? string.Empty : authority[(colon + 1)..];
        if (hostPart.Length == 0)
        {
            return false;
        }

        if (hostPart.StartsWith('['))
        {
            if (!hostPart.EndsWith(']') || hostPart.Length < 3)
            {
                return false;
            }

            hostPart = hostPart[1..^1];
        }
        else if (hostPart.Contains(':', StringComparison.Ordinal) || hostPart.Contains('@', StringComparison.Ordinal) || hostPart.Contains('[', StringComparison.Ordinal) || hostPart.Contains(']', StringComparison.Ordinal))
        {
            return false;
        }

        if (portText.Length == 0)
        {
            // "host" and "host:" both mean the scheme's port (RFC 3986 section 3.2.3); CONNECT has no scheme.
            if (defaultPort == 0)
            {
                return false;
            }

            port = defaultPort;
        }
        else if (portText.Length > 5 || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            port = 0;
            return false;
        }

        host = hostPart;
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
        if (!HttpSyntax.IsToken(method) && !method.IsEmpty)
        {
            return false;
        }

        return space < 0 || HttpSyntax.IsVisibleOrSpace(partial[(space + 1)..]);
    }
}
