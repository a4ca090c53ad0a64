using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace QuicPipe.Tunnels;

/// <summary>What <see cref="TunnelHeader.TryParse"/> found at the start of a stream.</summary>
public enum TunnelHeaderParseResult
{
    /// <summary>A whole, valid header.</summary>
    Complete,

    /// <summary>A valid prefix: more bytes are needed.</summary>
    Incomplete,

    /// <summary>An unknown version byte.</summary>
    UnknownVersion,

    /// <summary>Port 0, or a host that is empty of valid characters.</summary>
    Invalid,
}

/// <summary>
/// The header the forwarding side writes first on every tunnel stream (docs/tcp-over-quic.md):
/// <c>version (1 byte, 0x01) | target port (u16, big-endian, not 0) | host length (1 byte, 0 = none) | host (ASCII)</c>.
/// Without a host the exposing side connects to 127.0.0.1.
/// </summary>
public readonly record struct TunnelHeader
{
    /// <summary>The only version defined so far.</summary>
    public const byte Version1 = 0x01;

    /// <summary>Longest host name (a DNS name is at most 253 characters).</summary>
    public const int MaxHostLength = 255;

    /// <summary>Longest possible header.</summary>
    public const int MaxSize = 4 + MaxHostLength;

    public TunnelHeader(int port, string? host = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, ushort.MaxValue);
        if (host is not null && !IsValidHost(host))
        {
            throw new ArgumentException($"Not a valid tunnel target host (1-{MaxHostLength} of A-Z a-z 0-9 . - _ :).", nameof(host));
        }

        Port = port;
        Host = string.IsNullOrEmpty(host) ? null : host;
    }

    /// <summary>The target port on the exposing side.</summary>
    public int Port { get; }

    /// <summary>The target host, or null for the exposing side's loopback.</summary>
    public string? Host { get; }

    /// <summary>Encoded length.</summary>
    public int Size => 4 + (Host?.Length ?? 0);

    /// <summary>Encodes the header into <paramref name="destination"/>; returns the bytes written.</summary>
    public int Write(Span<byte> destination)
    {
        destination[0] = Version1;
        BinaryPrimitives.WriteUInt16BigEndian(destination[1..], (ushort)Port);
        var host = Host ?? string.Empty;
        destination[3] = (byte)host.Length;
        Encoding.ASCII.GetBytes(host, destination[4..]);
        return Size;
    }

    /// <summary>The encoded header.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    /// <summary>
    /// Parses a header at the start of <paramref name="buffer"/>. On <see cref="TunnelHeaderParseResult.Complete"/>,
    /// <paramref name="consumed"/> is the position just after it (the tunnelled bytes start there). Never throws on
    /// any input.
    /// </summary>
    public static TunnelHeaderParseResult TryParse(ReadOnlySequence<byte> buffer, out TunnelHeader header, out SequencePosition consumed)
    {
        header = default;
        consumed = buffer.Start;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out var version))
        {
            return TunnelHeaderParseResult.Incomplete;
        }

        if (version != Version1)
        {
            return TunnelHeaderParseResult.UnknownVersion;
        }

        if (!reader.TryReadBigEndian(out short rawPort) || !reader.TryRead(out var hostLength))
        {
            return TunnelHeaderParseResult.Incomplete;
        }

        var port = (ushort)rawPort;
        if (port == 0)
        {
            return TunnelHeaderParseResult.Invalid;
        }

        string? host = null;
        if (hostLength > 0)
        {
            Span<byte> hostBytes = stackalloc byte[hostLength];
            if (!reader.TryCopyTo(hostBytes))
            {
                return TunnelHeaderParseResult.Incomplete;
            }

            foreach (var b in hostBytes)
            {
                if (!IsHostChar((char)b))
                {
                    return TunnelHeaderParseResult.Invalid;
                }
            }

            reader.Advance(hostLength);
            host = Encoding.ASCII.GetString(hostBytes);
        }

        header = new TunnelHeader(port, host);
        consumed = reader.Position;
        return TunnelHeaderParseResult.Complete;
    }

    private static bool IsValidHost(string host)
    {
        if (host.Length > MaxHostLength)
        {
            return false;
        }

        foreach (var c in host)
        {
            if (!IsHostChar(c))
            {
                return false;
            }
        }

        return true;
    }

    // DNS names, IPv4 literals and IPv6 literals (without brackets or zone).
    private static bool IsHostChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':';
}
