using System.Text;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// A response head from the origin behind a peer (RFC 9112 section 4): <c>HTTP/1.x NNN reason</c> and the field
/// lines. Checked as strictly as a request head: the proxy decides message framing from it.
/// </summary>
internal readonly record struct HttpResponseHead(bool IsHttp11, int Status, string Reason, HttpHeaderField[] Headers)
{
    /// <summary>1xx: more heads follow before the final one (RFC 9110 section 15.2).</summary>
    public bool IsInterim => Status is >= 100 and < 200;

    /// <summary>As <see cref="HttpProxyRequest.TryParse"/>, for a status line. Never throws on any input.</summary>
    public static ProxyParseResult TryParse(ReadOnlySpan<byte> data, out HttpResponseHead head, out int consumed)
    {
        head = default;
        consumed = 0;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            // "HTTP/1." is the only start a response can have: anything else is refused without waiting for more.
            var prefix = data[..Math.Min(data.Length, 7)];
            return "HTTP/1."u8.StartsWith(prefix) ? ProxyParseResult.Incomplete : ProxyParseResult.Invalid;
        }

        var lines = data[..(end + 2)];
        var lineEnd = lines.IndexOf("\r\n"u8);
        var statusLine = lines[..lineEnd];

        // HTTP-version SP 3DIGIT SP reason-phrase; the reason may be empty, and some servers drop its space too.
        if (statusLine.Length < 12 || !(statusLine.StartsWith("HTTP/1.1 "u8) || statusLine.StartsWith("HTTP/1.0 "u8)) ||
            !char.IsAsciiDigit((char)statusLine[9]) || !char.IsAsciiDigit((char)statusLine[10]) || !char.IsAsciiDigit((char)statusLine[11]) ||
            (statusLine.Length > 12 && statusLine[12] != ' '))
        {
            return ProxyParseResult.Invalid;
        }

        var reason = statusLine.Length > 13 ? statusLine[13..] : [];
        if (reason.ContainsAnyInRange((byte)0, (byte)0x08) || reason.ContainsAnyInRange((byte)0x0A, (byte)0x1F) || reason.Contains((byte)0x7F) ||
            !HttpSyntax.TryParseFields(lines[(lineEnd + 2)..], out var fields))
        {
            return ProxyParseResult.Invalid;
        }

        var status = ((statusLine[9] - '0') * 100) + ((statusLine[10] - '0') * 10) + (statusLine[11] - '0');
        if (status < 100)
        {
            return ProxyParseResult.Invalid;
        }

        head = new HttpResponseHead(statusLine[7] == '1', status, Encoding.Latin1.GetString(reason), fields);
        consumed = end + 4;
        return ProxyParseResult.Complete;
    }
}
