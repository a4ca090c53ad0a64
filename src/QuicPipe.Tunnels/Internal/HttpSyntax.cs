using System.Text;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// The HTTP/1.x grammar both head parsers share (RFC 9110 section 5, RFC 9112 section 5): tokens and field lines.
/// Strict where leniency helps request smuggling: no whitespace before the colon, no folded lines, no control bytes.
/// </summary>
internal static class HttpSyntax
{
    /// <summary>
    /// Parses the field lines of a head: <paramref name="lines"/> runs from the first field line to the CRLF of the
    /// last one (the empty line excluded). Values keep their bytes as Latin-1 (obs-text passes through unchanged).
    /// </summary>
    public static bool TryParseFields(ReadOnlySpan<byte> lines, out HttpHeaderField[] fields)
    {
        fields = [];
        if (lines.IsEmpty)
        {
            return true;
        }

        var parsed = new List<HttpHeaderField>();
        while (!lines.IsEmpty)
        {
            var next = lines.IndexOf("\r\n"u8);
            if (next < 0 || !TryParseFieldLine(lines[..next], out var field))
            {
                return false;
            }

            parsed.Add(field);
            lines = lines[(next + 2)..];
        }

        fields = [.. parsed];
        return true;
    }

    public static bool TryParseFieldLine(ReadOnlySpan<byte> line, out HttpHeaderField field)
    {
        field = default;
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

        field = new HttpHeaderField(Encoding.ASCII.GetString(line[..colon]), Encoding.Latin1.GetString(raw));
        return true;
    }

    public static bool IsToken(ReadOnlySpan<byte> bytes)
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

    public static bool IsVisible(ReadOnlySpan<byte> bytes) => !bytes.IsEmpty && !bytes.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);

    public static bool IsVisibleOrSpace(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E);

    /// <summary>Whether a comma-separated field value (e.g. <c>Connection: keep-alive, Upgrade</c>) lists <paramref name="token"/>.</summary>
    public static bool ListContains(string value, string token)
    {
        foreach (var range in value.AsSpan().Split(','))
        {
            if (value.AsSpan()[range].Trim(" \t").Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
