using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Dataplane.Tun;

/// <summary>
/// An address an interface holds, with the prefix length of the network it sits on: "100.64.0.1/24",
/// "fd00:64::1/64". Unlike <see cref="IPNetwork"/>, host bits are the point: they say which address is the
/// interface's own.
/// </summary>
public readonly struct InterfaceAddress : IEquatable<InterfaceAddress>
{
    /// <summary>Holds <paramref name="address"/> on a network of <paramref name="prefixLength"/> bits.</summary>
    /// <exception cref="ArgumentException">Not IPv4 or IPv6, scoped, or the prefix length does not fit the family.</exception>
    public InterfaceAddress(IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (Check(address, prefixLength) is { } error)
        {
            throw new ArgumentException(error, nameof(address));
        }

        Address = address;
        PrefixLength = prefixLength;
    }

    /// <summary>The interface's own address.</summary>
    public IPAddress Address { get; }

    /// <summary>Bits of <see cref="Address"/> that name the network: 0..32 for IPv4, 0..128 for IPv6.</summary>
    public int PrefixLength { get; }

    public static bool operator ==(InterfaceAddress left, InterfaceAddress right) => left.Equals(right);

    public static bool operator !=(InterfaceAddress left, InterfaceAddress right) => !left.Equals(right);

    /// <summary>Parses "ADDRESS/PREFIX", as in "100.64.0.1/24" or "fd00:64::1/64".</summary>
    /// <exception cref="FormatException">The text is not such an address; the message says what is wrong.</exception>
    public static InterfaceAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var result, out var error) ? result : throw new FormatException(error);
    }

    /// <summary>Parses "ADDRESS/PREFIX"; false for anything else.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out InterfaceAddress result) => TryParse(text, out result, out _);

    public bool Equals(InterfaceAddress other) => PrefixLength == other.PrefixLength && Equals(Address, other.Address);

    public override bool Equals(object? obj) => obj is InterfaceAddress other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Address, PrefixLength);

    /// <summary>"ADDRESS/PREFIX", the form <see cref="Parse"/> reads.</summary>
    public override string ToString() => Address is null ? string.Empty : $"{Address}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";

    private static bool TryParse(string? text, out InterfaceAddress result, out string error)
    {
        result = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "An interface address is empty; write it as ADDRESS/PREFIX, as in 100.64.0.1/24.";
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            error = $"The interface address '{text}' has no prefix length; write it as ADDRESS/PREFIX, as in 100.64.0.1/24.";
            return false;
        }

        if (!IPAddress.TryParse(text.AsSpan(0, slash), out var address))
        {
            error = $"The interface address '{text}' does not start with an IPv4 or IPv6 address.";
            return false;
        }

        var prefix = text.AsSpan(slash + 1);
        if (prefix.IsEmpty || prefix.Length > 3 || !int.TryParse(prefix, NumberStyles.None, CultureInfo.InvariantCulture, out var prefixLength))
        {
            error = $"The interface address '{text}' has no valid prefix length after the '/'.";
            return false;
        }

        if (Check(address, prefixLength) is { } problem)
        {
            error = $"The interface address '{text}' is not valid: {problem}";
            return false;
        }

        result = new InterfaceAddress(address, prefixLength);
        error = string.Empty;
        return true;
    }

    private static string? Check(IPAddress address, int prefixLength)
    {
        var maximum = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => 32,
            AddressFamily.InterNetworkV6 => 128,
            _ => -1,
        };
        if (maximum < 0)
        {
            return $"{address} is neither IPv4 nor IPv6.";
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            // The device the address goes on is its scope; a zone from elsewhere would be silently dropped.
            return $"{address} names a zone; give the address without '%'.";
        }

        return prefixLength < 0 || prefixLength > maximum
            ? $"the prefix length {prefixLength} is outside 0..{maximum}."
            : null;
    }
}
