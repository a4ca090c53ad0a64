using System.Buffers;

namespace QuicPipe.Tunnels.Internal;

/// <summary>What <see cref="HttpBodyFramer.Scan"/> found.</summary>
internal enum HttpBodyScan
{
    /// <summary>All the bytes given belong to the body; it goes on.</summary>
    NeedMore,

    /// <summary>The body ends within the bytes given; the rest belongs to the next message.</summary>
    Done,

    /// <summary>The chunked framing is broken (a bad chunk size, a missing CRLF, an overlong line).</summary>
    Invalid,
}

/// <summary>
/// Finds where a message body ends as its bytes stream past, without changing or keeping them: the proxy forwards a
/// body as it came (chunked stays chunked, extensions and trailers included) and only needs to know its end, so the
/// connection can carry the next message. One framer per direction, reused for every message. Pure: no I/O.
/// </summary>
internal sealed class HttpBodyFramer
{
    /// <summary>A chunk-size line (size and extensions) or a trailer line longer than this is refused.</summary>
    public const int MaxLineBytes = 4096;

    /// <summary>All trailer lines together.</summary>
    public const int MaxTrailerBytes = 16 * 1024;

    private enum Chunk
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        Trailer,
        TrailerLf,
        End,
    }

    private HttpBodyKind _kind;

    // Length: bytes still to come. Chunked, in Data: bytes left of the current chunk; in Size: the size so far.
    private long _remaining;
    private Chunk _chunk;
    private int _digits;
    private int _lineBytes;
    private int _trailerBytes;

    /// <summary>False for a message without a body: there is nothing to read, and reading would take the next message.</summary>
    public bool HasBody => _kind != HttpBodyKind.None;

    /// <summary>Whether the body ends when the sender closes (close-delimited): then the end of input is its end.</summary>
    public bool EndsAtClose => _kind == HttpBodyKind.UntilClose;

    public void Start(HttpBodyFraming framing)
    {
        _kind = framing.Kind;
        _remaining = framing.Kind == HttpBodyKind.Length ? framing.Length : 0;
        _chunk = Chunk.Size;
        _digits = _lineBytes = _trailerBytes = 0;
    }

    /// <summary>
    /// Looks at the next <paramref name="data"/> of the message: <paramref name="bodyBytes"/> of them (all of them
    /// with <see cref="HttpBodyScan.NeedMore"/>) belong to the body. Call again with the bytes that follow.
    /// </summary>
    public HttpBodyScan Scan(ReadOnlySequence<byte> data, out long bodyBytes)
    {
        switch (_kind)
        {
            case HttpBodyKind.None:
                bodyBytes = 0;
                return HttpBodyScan.Done;
            case HttpBodyKind.Length:
                bodyBytes = Math.Min(_remaining, data.Length);
                _remaining -= bodyBytes;
                return _remaining == 0 ? HttpBodyScan.Done : HttpBodyScan.NeedMore;
            case HttpBodyKind.UntilClose:
                bodyBytes = data.Length;
                return HttpBodyScan.NeedMore;
            default:
                return ScanChunked(data, out bodyBytes);
        }
    }

    private HttpBodyScan ScanChunked(ReadOnlySequence<byte> data, out long bodyBytes)
    {
        var reader = new SequenceReader<byte>(data);
        while (!reader.End)
        {
            if (_chunk == Chunk.Data)
            {
                // The bulk of a chunked body: skipped whole, not looked at byte by byte.
                var skip = Math.Min(_remaining, reader.Remaining);
                reader.Advance(skip);
                _remaining -= skip;
                if (_remaining == 0)
                {
                    _chunk = Chunk.DataCr;
                }

                continue;
            }

            reader.TryRead(out var b);
            if (!Step(b))
            {
                bodyBytes = reader.Consumed;
                return HttpBodyScan.Invalid;
            }

            if (_chunk == Chunk.End)
            {
                // The empty line after the last chunk (or its trailers): the body is over.
                bodyBytes = reader.Consumed;
                return HttpBodyScan.Done;
            }
        }

        bodyBytes = reader.Consumed;
        return HttpBodyScan.NeedMore;
    }

    /// <summary>One byte of a chunk-size line, a chunk's CRLF or a trailer line. False: the framing is broken.</summary>
    private bool Step(byte b)
    {
        switch (_chunk)
        {
            case Chunk.Size:
                if (++_lineBytes > MaxLineBytes)
                {
                    return false;
                }

                if (char.IsAsciiHexDigit((char)b))
                {
                    // 15 hex digits (2^60 bytes) is more than any body; more would overflow the count.
                    if (++_digits > 15)
                    {
                        return false;
                    }

                    _remaining = (_remaining << 4) | (long)HexValue(b);
                    return true;
                }

                if (_digits == 0)
                {
                    return false;
                }

                if (b is (byte)';' or (byte)' ' or (byte)'\t')
                {
                    _chunk = Chunk.Extension;
                    return true;
                }

                _chunk = Chunk.SizeLf;
                return b == '\r';
            case Chunk.Extension:
                if (++_lineBytes > MaxLineBytes || (b is < 0x20 and not (byte)'\t' and not (byte)'\r') || b == 0x7F)
                {
                    return false;
                }

                if (b == '\r')
                {
                    _chunk = Chunk.SizeLf;
                }

                return true;
            case Chunk.SizeLf:
                if (b != '\n')
                {
                    return false;
                }

                _digits = _lineBytes = 0;
                _chunk = _remaining == 0 ? Chunk.Trailer : Chunk.Data;
                return true;
            case Chunk.DataCr:
                _chunk = Chunk.DataLf;
                return b == '\r';
            case Chunk.DataLf:
                _chunk = Chunk.Size;
                return b == '\n';
            case Chunk.Trailer:
                if (b == '\r')
                {
                    _chunk = Chunk.TrailerLf;
                    return true;
                }

                _lineBytes++;
                return b != '\n' && _lineBytes <= MaxLineBytes && ++_trailerBytes <= MaxTrailerBytes;
            case Chunk.TrailerLf:
                if (b != '\n')
                {
                    return false;
                }

                // An empty line ends the trailer section, and with it the body.
                _chunk = _lineBytes == 0 ? Chunk.End : Chunk.Trailer;
                _lineBytes = 0;
                return true;
            default:
                return false;
        }
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
