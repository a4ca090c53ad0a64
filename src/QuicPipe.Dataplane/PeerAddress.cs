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

    /// <summary>The IP address in network byte order: 4 bytes for IPv4, 16 for IPv6, empty otherwise.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> AddressBytes =>
        IsIPv4 ? ((ReadOnlySpan<byte>)_raw).Slice(4, 4)
        : IsIPv6 ? ((ReadOnlySpan<byte>)_raw).Slice(8, 16)
        : default;

    /// <summary>
    /// Builds an address from its parts: <see cref="AfInet"/> with 4 address bytes or <see cref="AfInet6"/>
    /// with 16 (network order), a port of 0-65535, and an IPv6 scope id.
    /// </summary>
    public static PeerAddress Create(ushort family, ReadOnlySpan<byte> address, int port, uint scopeId = 0)
    {
        var expectedLength = family switch
        {
            AfInet => 4,
            AfInet6 => 16,
            _ => throw new ArgumentException($"Only AF_INET ({AfInet}) and AF_INET6 ({AfInet6}) are supported, not {family}.", nameof(family)),
        };
        if (address.Length != expectedLength)
        {
            throw new ArgumentException($"Family {family} takes {expectedLength} address bytes, not {address.Length}.", nameof(address));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, ushort.MaxValue);

        var result = default(PeerAddress);
        Span<byte> raw = result._raw;
        MemoryMarshal.Write(raw, family);
        BinaryPrimitives.WriteUInt16BigEndian(raw[2..], (ushort)port);
        if (family == AfInet)
        {
            address.CopyTo(raw[4..]);
        }
        else
        {
            address.CopyTo(raw[8..]);
            MemoryMarshal.Write(raw[24..], scopeId);
        }

        return result;
    }

    public static PeerAddress FromEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        Span<byte> address = stackalloc byte[16];
        return endPoint.AddressFamily switch
        {
            AddressFamily.InterNetwork when endPoint.Address.TryWriteBytes(address, out var written) =>
                Create(AfInet, address[..written], endPoint.Port),
            AddressFamily.InterNetworkV6 when endPoint.Address.TryWriteBytes(address, out var written) =>
                Create(AfInet6, address[..written], endPoint.Port, (uint)endPoint.Address.ScopeId),
            _ => throw new ArgumentException($"Only IPv4 and IPv6 addresses are supported, not {endPoint.AddressFamily}.", nameof(endPoint)),
        };
    }

    /// <summary>Converts to an <see cref="IPEndPoint"/>; allocates, so never on the hot path.</summary>
    public readonly IPEndPoint ToEndPoint()
    {
        if (IsIPv4)
        {
            return new IPEndPoint(new IPAddress(AddressBytes), Port);
        }

        if (IsIPv6)
        {
            var scope = MemoryMarshal.Read<uint>(((ReadOnlySpan<byte>)_raw)[24..]);
            return new IPEndPoint(new IPAddress(AddressBytes, scope), Port);
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
