using System.Globalization;

namespace QuicPipe.Tunnels.Internal;

/// <summary>How an HTTP/1.1 message body is delimited (RFC 9112 section 6.3).</summary>
internal enum HttpBodyKind
{
    /// <summary>No body: a request without Content-Length or Transfer-Encoding, HEAD, 1xx, 204, 304.</summary>
    None,

    /// <summary>Exactly <see cref="HttpBodyFraming.Length"/> bytes (Content-Length).</summary>
    Length,

    /// <summary>Transfer-Encoding ending in chunked: chunks up to the last-chunk and trailers.</summary>
    Chunked,

    /// <summary>A response with neither: the body runs until the origin closes the connection.</summary>
    UntilClose,
}

/// <summary>
/// The framing of one message, decided from its head by the rules of RFC 9112 section 6.3. Ambiguous framing (both
/// Content-Length and Transfer-Encoding, Content-Length values that disagree) is refused rather than guessed: two
/// hops guessing differently is how requests are smuggled.
/// </summary>
internal readonly record struct HttpBodyFraming(HttpBodyKind Kind, long Length)
{
    public static readonly HttpBodyFraming None = new(HttpBodyKind.None, 0);

    /// <summary>A request's framing; false when the client's framing is unusable (answer 400).</summary>
    public static bool TryForRequest(IReadOnlyList<HttpHeaderField> headers, out HttpBodyFraming framing)
    {
        framing = None;
        if (!TryRead(headers, out var chunked, out var otherCoding, out var length))
        {
            return false;
        }

        if (chunked || otherCoding)
        {
            // A request whose last coding is not chunked has no end a server can find (section 6.3 rule 4).
            framing = new HttpBodyFraming(HttpBodyKind.Chunked, 0);
            return chunked && length is null;
        }

        framing = length is > 0 ? new HttpBodyFraming(HttpBodyKind.Length, length.Value) : None;
        return true;
    }

    /// <summary>A response's framing, given the request's method; false when the origin's framing is unusable (502).</summary>
    public static bool TryForResponse(string requestMethod, int status, IReadOnlyList<HttpHeaderField> headers, out HttpBodyFraming framing)
    {
        framing = None;
        if (requestMethod == "HEAD" || status is < 200 or 204 or 304)
        {
            return true;
        }

        if (!TryRead(headers, out var chunked, out var otherCoding, out var length))
        {
            return false;
        }

        if (chunked || otherCoding)
        {
            // Transfer-Encoding wins over Content-Length in a response; a coding other than a final chunked ends
            // with the connection (section 6.3 rules 3 and 4).
            framing = new HttpBodyFraming(chunked ? HttpBodyKind.Chunked : HttpBodyKind.UntilClose, 0);
            return true;
        }

        framing = length switch
        {
            null => new HttpBodyFraming(HttpBodyKind.UntilClose, 0),
            0 => None,
            _ => new HttpBodyFraming(HttpBodyKind.Length, length.Value),
        };
        return true;
    }

    /// <summary>
    /// Reads Transfer-Encoding (is its last coding chunked, or is there another) and Content-Length (all values equal,
    /// digits only). False for a Content-Length that is not a number or disagrees with another.
    /// </summary>
    private static bool TryRead(IReadOnlyList<HttpHeaderField> headers, out bool chunked, out bool otherCoding, out long? length)
    {
        chunked = otherCoding = false;
        length = null;
        foreach (var field in headers)
        {
            if (field.Is("Transfer-Encoding"))
            {
                foreach (var range in field.Value.AsSpan().Split(','))
                {
                    var coding = field.Value.AsSpan()[range].Trim(" \t");
                    if (coding.IsEmpty)
                    {
                        continue;
                    }

                    // Only the last coding counts: chunked followed by anything is not chunked.
                    chunked = coding.Equals("chunked", StringComparison.OrdinalIgnoreCase);
                    otherCoding |= !chunked;
                }
            }
            else if (field.Is("Content-Length"))
            {
                foreach (var range in field.Value.AsSpan().Split(','))
                {
                    var text = field.Value.AsSpan()[range].Trim(" \t");
                    if (text.IsEmpty || text.Length > 18 || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ||
                        (length is { } seen && seen != value))
                    {
                        return false;
                    }

                    length = value;
                }
            }
        }

        if (chunked)
        {
            otherCoding = false;
        }

        return true;
    }
}
