using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>
/// An IPv4 or IPv6 network prefix, as in WireGuard's allowed IPs: <c>100.64.0.2/32</c>, <c>10.9.0.0/16</c>,
/// <c>fd00:64::2/128</c>. The network is stored as an integer, so <see cref="Contains"/> tests a raw address from
/// a packet with one AND and no allocation. <c>default</c> is no prefix at all and contains nothing.
/// </summary>
/// <remarks>
/// Host bits beyond the length are refused rather than masked as WireGuard does: <c>10.9.0.1/16</c> on a
/// <c>--peer</c> line is a typo more often than a shorthand, and a silently widened route is hard to find.
/// </remarks>
public readonly struct IpPrefix : IEquatable<IpPrefix>
{
    /// <summary>The network, big-endian: IPv4 in the low 32 bits.</summary>
    private readonly UInt128 _bits;
    private readonly byte _length;

    /// <summary>4, 6, or 0 for <c>default</c>.</summary>
    private readonly byte _version;

    private IpPrefix(UInt128 bits, int length, int version)
    {
        _bits = bits;
        _length = (byte)length;
        _version = (byte)version;
    }

    /// <summary>Makes the prefix <paramref name="network"/>/<paramref name="prefixLength"/>.</summary>
    /// <exception cref="ArgumentException">The length is out of range, or <paramref name="network"/> has host bits set.</exception>
    public IpPrefix(IPAddress network, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (!TryCreate(network, prefixLength, $"{network}/{prefixLength}", out this, out var error))
        {
            throw new ArgumentException(error, nameof(network));
        }
    }

    /// <summary><see cref="AddressFamily.InterNetwork"/>, <see cref="AddressFamily.InterNetworkV6"/>, or Unspecified for <c>default</c>.</summary>
    public AddressFamily AddressFamily => _version switch
    {
        4 => AddressFamily.InterNetwork,
        6 => AddressFamily.InterNetworkV6,
        _ => AddressFamily.Unspecified,
    };

    public int PrefixLength => _length;

    /// <summary>The network address, for display and netlink; allocates. <see cref="IPAddress.None"/> for <c>default</c>.</summary>
    public IPAddress Network
    {
        get
        {
            Span<byte> bytes = stackalloc byte[AddressBits.IPv6Length];
            switch (_version)
            {
                case 4:
                    BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)_bits);
                    return new IPAddress(bytes[..AddressBits.IPv4Length]);
                case 6:
                    BinaryPrimitives.WriteUInt128BigEndian(bytes, _bits);
                    return new IPAddress(bytes);
                default:
                    return IPAddress.None;
            }
        }
    }

    /// <summary>4 or 6; 0 for <c>default</c>.</summary>
    internal int Version => _version;

    /// <summary>The network as an integer, big-endian: IPv4 in the low 32 bits.</summary>
    internal UInt128 Bits => _bits;

    public static bool operator ==(IpPrefix left, IpPrefix right) => left.Equals(right);

    public static bool operator !=(IpPrefix left, IpPrefix right) => !left.Equals(right);

    /// <summary>Parses "ADDRESS/LENGTH" or a bare address (/32, /128).</summary>
    /// <exception cref="FormatException">The text is not a prefix; the message says why.</exception>
    public static IpPrefix Parse(string s)
    {
        if (!TryParse(s, out var prefix, out var error))
        {
            throw new FormatException(error);
        }

        return prefix;
    }

    /// <summary>Parses "ADDRESS/LENGTH" or a bare address (/32, /128); false for anything else, including host bits set.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, out IpPrefix prefix) => TryParse(s, out prefix, out _);

    /// <summary>
    /// True when <paramref name="address"/>, raw from a packet (4 bytes for IPv4, 16 for IPv6), is inside this prefix.
    /// An address of the other family, or of any other length, is not.
    /// </summary>
    public bool Contains(ReadOnlySpan<byte> address)
    {
        return _version switch
        {
            4 => address.Length == AddressBits.IPv4Length
                && (AddressBits.ReadIPv4(address) & AddressBits.Mask<uint>(_length)) == (uint)_bits,
            6 => address.Length == AddressBits.IPv6Length
                && (AddressBits.ReadIPv6(address) & AddressBits.Mask<UInt128>(_length)) == _bits,
            _ => false,
        };
    }

    public bool Equals(IpPrefix other) => _bits == other._bits && _length == other._length && _version == other._version;

    public override bool Equals(object? obj) => obj is IpPrefix other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_bits, _length, _version);

    /// <summary>"NETWORK/LENGTH", as <see cref="Parse"/> reads it; empty for <c>default</c>.</summary>
    public override string ToString() => _version == 0 ? string.Empty : $"{Network}/{_length}";

    /// <summary>The prefix of length <paramref name="prefixLength"/> that holds <paramref name="address"/>: host bits cleared.</summary>
    public static IpPrefix Containing(IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[AddressBits.IPv6Length];
        _ = address.TryWriteBytes(bytes, out var written);
        return written == AddressBits.IPv4Length
            ? new IpPrefix(AddressBits.ReadIPv4(bytes) & AddressBits.Mask<uint>(prefixLength), prefixLength, 4)
            : new IpPrefix(AddressBits.ReadIPv6(bytes) & AddressBits.Mask<UInt128>(prefixLength), prefixLength, 6);
    }

    internal static bool TryParse(string? s, out IpPrefix prefix, [NotNullWhen(false)] out string? error)
    {
        if (!AddressText.TryParse(s, out var address, out var length, out error))
        {
            prefix = default;
            return false;
        }

        return TryCreate(address, length, s!, out prefix, out error);
    }

    private static bool TryCreate(IPAddress network, int length, string text, out IpPrefix prefix, [NotNullWhen(false)] out string? error)
    {
        var maxLength = network.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        // ScopeId throws for IPv4: the family goes first.
        if (network.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            || (network.AddressFamily == AddressFamily.InterNetworkV6 && network.ScopeId != 0)
            || length < 0
            || length > maxLength)
        {
            prefix = default;
            error = $"'{text}' is not an IPv4 or IPv6 prefix: expected an address without zone and a length from 0 to {maxLength}.";
            return false;
        }

        var masked = Containing(network, length);
        if (!masked.Network.Equals(network))
        {
            prefix = default;
            error = $"'{text}' has host bits set beyond /{length}: the network is {masked}.";
            return false;
        }

        prefix = masked;
        error = null;
        return true;
    }
}
