using System.Buffers;
using System.Globalization;
using System.Text;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// Writes the heads a forwarding proxy passes on (RFC 9112 section 3.2.2, RFC 9110 section 7.6): the request in
/// origin-form with Host from the URL, the response with our own status-line version, both without hop-by-hop fields
/// and with <c>Via: 1.1 quicpipe</c>. Bodies are forwarded unchanged, so the framing fields are never dropped, not
/// even when <c>Connection</c> names them (that would leave the next hop reading a different message boundary).
/// </summary>
internal static class HttpHeadWriter
{
    public const string Via = "1.1 quicpipe";

    // Hop-by-hop: they describe one connection (ours with the client), not the message. Proxy-Authorization is ours.
    private static readonly string[] HopByHop = ["Connection", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "Proxy-Authorization"];

    private static readonly string[] Framing = ["Content-Length", "Transfer-Encoding"];

    /// <summary><c>METHOD /path HTTP/1.1</c>, <c>Host</c> from the absolute-form target, the end-to-end fields, <c>Via</c>.</summary>
    public static void WriteRequest(HttpProxyRequest request, IBufferWriter<byte> output)
    {
        Append(output, request.Method);
        Append(output, " ");
        Append(output, request.Path);
        Append(output, " HTTP/1.1\r\nHost: ");
        Append(output, request.Host!.Contains(':', StringComparison.Ordinal) ? "[" + request.Host + "]" : request.Host);
        if (request.Port != 80)
        {
            Append(output, ":");
            Append(output, request.Port.ToString(CultureInfo.InvariantCulture));
        }

        Append(output, "\r\n");
        WriteEndToEndFields(request.Headers, output, skip: "Host");
        Append(output, "Via: " + Via + "\r\n\r\n");
    }

    /// <summary>
    /// <c>HTTP/1.1 NNN reason</c>, the end-to-end fields, <c>Via</c>, and <c>Connection: close</c> when the proxy will
    /// close the client's connection after this response. Beside a Transfer-Encoding, a Content-Length is dropped: the
    /// body is framed by the coding, and a proxy must not pass on the conflicting length (RFC 9112 section 6.3).
    /// </summary>
    public static void WriteResponse(HttpResponseHead response, bool close, IBufferWriter<byte> output)
    {
        Append(output, "HTTP/1.1 ");
        Append(output, response.Status.ToString(CultureInfo.InvariantCulture));
        Append(output, " ");
        Append(output, response.Reason);
        Append(output, "\r\n");
        var coded = response.Headers.Any(f => f.Is("Transfer-Encoding"));
        WriteEndToEndFields(response.Headers, output, skip: coded ? "Content-Length" : null);
        Append(output, "Via: " + Via + "\r\n");
        if (close)
        {
            Append(output, "Connection: close\r\n");
        }

        Append(output, "\r\n");
    }

    /// <summary>Whether a field is hop-by-hop for a head whose <c>Connection</c> values are <paramref name="headers"/>'.</summary>
    public static bool IsHopByHop(string name, IReadOnlyList<HttpHeaderField> headers)
    {
        if (IsOneOf(name, Framing))
        {
            return false;
        }

        if (IsOneOf(name, HopByHop))
        {
            return true;
        }

        foreach (var field in headers)
        {
            if (field.Is("Connection") && HttpSyntax.ListContains(field.Value, name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a head's <c>Connection</c> fields carry <paramref name="option"/> (e.g. <c>close</c>).</summary>
    public static bool HasConnectionOption(IReadOnlyList<HttpHeaderField> headers, string option)
    {
        foreach (var field in headers)
        {
            if (field.Is("Connection") && HttpSyntax.ListContains(field.Value, option))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsOneOf(string name, string[] names)
    {
        foreach (var candidate in names)
        {
            if (name.Equals(candidate, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static void WriteEndToEndFields(IReadOnlyList<HttpHeaderField> headers, IBufferWriter<byte> output, string? skip)
    {
        foreach (var field in headers)
        {
            if ((skip is not null && field.Is(skip)) || IsHopByHop(field.Name, headers))
            {
                continue;
            }

            Append(output, field.Name);
            Append(output, ": ");
            Append(output, field.Value);
            Append(output, "\r\n");
        }
    }

    // Latin-1: the parsers kept every byte of a value as one char, so this gives the same bytes back.
    private static void Append(IBufferWriter<byte> output, string text)
    {
        var written = Encoding.Latin1.GetBytes(text, output.GetSpan(text.Length));
        output.Advance(written);
    }
}
