using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>
/// An address of the TUN device itself with the length of its subnet, as <c>--address 100.64.0.1/24</c> or
/// <c>ip addr add</c> write it. Unlike an <see cref="IpPrefix"/>, the host bits are the point.
/// </summary>
public readonly struct InterfaceAddress : IEquatable<InterfaceAddress>
{
    /// <summary>Makes <paramref name="address"/>/<paramref name="prefixLength"/>.</summary>
    /// <exception cref="ArgumentException">Not an IPv4 or IPv6 address without zone, or the length is out of range.</exception>
    public InterfaceAddress(IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        var maxLength = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            || (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0))
        {
            throw new ArgumentException($"'{address}' is not an IPv4 or IPv6 address without zone.", nameof(address));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, maxLength);
        Address = address;
        PrefixLength = prefixLength;
    }

    /// <summary>The device's own address; null only for <c>default</c>.</summary>
    public IPAddress Address { get; }

    public int PrefixLength { get; }

    public AddressFamily AddressFamily => Address?.AddressFamily ?? AddressFamily.Unspecified;

    /// <summary>The on-link subnet: <see cref="Address"/> with its host bits cleared (100.64.0.1/24 -> 100.64.0.0/24).</summary>
    public IpPrefix Subnet => Address is null ? default : IpPrefix.Containing(Address, PrefixLength);

    public static bool operator ==(InterfaceAddress left, InterfaceAddress right) => left.Equals(right);

    public static bool operator !=(InterfaceAddress left, InterfaceAddress right) => !left.Equals(right);

    /// <summary>Parses "ADDRESS/LENGTH" or a bare address (/32, /128).</summary>
    /// <exception cref="FormatException">The text is not an interface address; the message says why.</exception>
    public static InterfaceAddress Parse(string s)
    {
        if (!AddressText.TryParse(s, out var address, out var length, out var error))
        {
            throw new FormatException(error);
        }

        return new InterfaceAddress(address, length);
    }

    /// <summary>Parses "ADDRESS/LENGTH" or a bare address (/32, /128); false for anything else.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, out InterfaceAddress address)
    {
        if (!AddressText.TryParse(s, out var ip, out var length, out _))
        {
            address = default;
            return false;
        }

        address = new InterfaceAddress(ip, length);
        return true;
    }

    public bool Equals(InterfaceAddress other) => Equals(Address, other.Address) && PrefixLength == other.PrefixLength;

    public override bool Equals(object? obj) => obj is InterfaceAddress other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Address, PrefixLength);

    /// <summary>"ADDRESS/LENGTH", as <see cref="Parse"/> reads it; empty for <c>default</c>.</summary>
    public override string ToString() => Address is null ? string.Empty : $"{Address}/{PrefixLength}";
}
