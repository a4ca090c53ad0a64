using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane;

/// <summary>
/// A UDP peer address kept as the raw Linux <c>sockaddr_in</c> or <c>sockaddr_in6</c> bytes, so that
/// recvmmsg writes it in place and sendmmsg reads it in place: no <see cref="IPEndPoint"/> per datagram.
/// </summary>
/// <remarks>
/// Layout (Linux, host byte order for the family, network byte order for port and address):
/// sockaddr_in  = family u16 @0, port u16 @2, addr[4] @4, zero[8] @8                      (16 bytes)
/// sockaddr_in6 = family u16 @0, port u16 @2, flowinfo u32 @4, addr[16] @8, scope u32 @24 (28 bytes)
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public struct PeerAddress : IEquatable<PeerAddress>
{
    /// <summary>Bytes reserved for one address: the size of <c>sockaddr_in6</c>.</summary>
    public const int Size = 28;

    /// <summary>Linux <c>AF_INET</c>.</summary>
    public const ushort AfInet = 2;

    /// <summary>Linux <c>AF_INET6</c>.</summary>
    public const ushort AfInet6 = 10;

    private const int SockaddrInSize = 16;

    private RawBytes _raw;

    /// <summary>The raw sockaddr bytes; the kernel reads and writes exactly these.</summary>
    [UnscopedRef]
    public Span<byte> Raw => _raw;

    public readonly ushort RawFamily => MemoryMarshal.Read<ushort>(_raw);

    public readonly bool IsIPv4 => RawFamily == AfInet;

    public readonly bool IsIPv6 => RawFamily == AfInet6;

    /// <summary>True for the zero value, which names no address.</summary>
    public readonly bool IsEmpty => RawFamily == 0;

    public readonly int Port => BinaryPrimitives.ReadUInt16BigEndian(((ReadOnlySpan<byte>)_raw)[2..]);

    /// <summary>The length to pass as <c>socklen_t</c> to the kernel.</summary>
    public readonly int SockaddrLength => IsIPv4 ? SockaddrInSize : Size;

    public static PeerAddress FromEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var result = default(PeerAddress);
        Span<byte> raw = result._raw;
        BinaryPrimitives.WriteUInt16BigEndian(raw[2..], (ushort)endPoint.Port);
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            MemoryMarshal.Write(raw, AfInet);
            endPoint.Address.TryWriteBytes(raw.Slice(4, 4), out _);
        }
        else if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            MemoryMarshal.Write(raw, AfInet6);
            endPoint.Address.TryWriteBytes(raw.Slice(8, 16), out _);
            MemoryMarshal.Write(raw[24..], (uint)endPoint.Address.ScopeId);
        }
        else
        {
            throw new ArgumentException($"Only IPv4 and IPv6 addresses are supported, not {endPoint.AddressFamily}.", nameof(endPoint));
        }

        return result;
    }

    /// <summary>Converts to an <see cref="IPEndPoint"/>; allocates, so never on the hot path.</summary>
    public readonly IPEndPoint ToEndPoint()
    {
        ReadOnlySpan<byte> raw = _raw;
        if (IsIPv4)
        {
            return new IPEndPoint(new IPAddress(raw.Slice(4, 4)), Port);
        }

        if (IsIPv6)
        {
            var scope = MemoryMarshal.Read<uint>(raw[24..]);
            return new IPEndPoint(new IPAddress(raw.Slice(8, 16), scope), Port);
        }

        throw new InvalidOperationException($"Address family {RawFamily} is neither IPv4 nor IPv6.");
    }

    /// <summary>Parses <c>1.2.3.4:5</c>, <c>[::1]:5</c> or <c>localhost:5</c> (names resolve once, here).</summary>
    public static bool TryParse(string text, out PeerAddress address, out string error)
    {
        address = default;
        if (!TryParseEndPoint(text, out var endPoint, out error))
        {
            return false;
        }

        address = FromEndPoint(endPoint);
        return true;
    }

    /// <summary>Parses <c>HOST:PORT</c> with a port of 0-65535; IPv6 hosts in brackets.</summary>
    public static bool TryParseEndPoint(string text, [NotNullWhen(true)] out IPEndPoint? endPoint, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        endPoint = null;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' is not HOST:PORT";
            return false;
        }

        var host = text[..colon];
        if (!int.TryParse(text.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
        {
            error = $"'{text[(colon + 1)..]}' is not a port (0-65535)";
            return false;
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            error = $"'{text}': write IPv6 addresses in brackets, as [::1]:{port}";
            return false;
        }

        if (!IPAddress.TryParse(host, out var ip))
        {
            try
            {
                ip = Dns.GetHostAddresses(host).FirstOrDefault();
            }
            catch (SocketException)
            {
                ip = null;
            }

            if (ip is null)
            {
                error = $"cannot resolve host '{host}'";
                return false;
            }
        }

        endPoint = new IPEndPoint(ip, port);
        error = string.Empty;
        return true;
    }

    /// <summary>Same family, address, port (and IPv6 scope); flow info is ignored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Equals(PeerAddress other)
    {
        ReadOnlySpan<byte> a = _raw;
        ReadOnlySpan<byte> b = other._raw;
        if (MemoryMarshal.Read<uint>(a) != MemoryMarshal.Read<uint>(b))
        {
            return false; // family or port differ
        }

        return IsIPv4
            ? MemoryMarshal.Read<uint>(a[4..]) == MemoryMarshal.Read<uint>(b[4..])
            : a.Slice(8, 20).SequenceEqual(b.Slice(8, 20));
    }

    public override readonly bool Equals(object? obj) => obj is PeerAddress other && Equals(other);

    public override readonly int GetHashCode()
    {
        ReadOnlySpan<byte> a = _raw;
        return IsIPv4
            ? HashCode.Combine(MemoryMarshal.Read<uint>(a), MemoryMarshal.Read<uint>(a[4..]))
            : HashCode.Combine(MemoryMarshal.Read<uint>(a), MemoryMarshal.Read<ulong>(a[8..]), MemoryMarshal.Read<ulong>(a[16..]), MemoryMarshal.Read<uint>(a[24..]));
    }

    public static bool operator ==(PeerAddress left, PeerAddress right) => left.Equals(right);

    public static bool operator !=(PeerAddress left, PeerAddress right) => !left.Equals(right);

    public override readonly string ToString() => IsEmpty ? "(none)" : ToEndPoint().ToString();

    [InlineArray(Size)]
    private struct RawBytes
    {
        private byte _element0;
    }
}
