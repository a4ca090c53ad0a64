using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// Reads "ADDRESS[/LENGTH]" as typed on a command line, more strictly than <see cref="IPAddress.TryParse(string?, out IPAddress?)"/>:
/// that one takes "10" for 0.0.0.10, "10.1" for 10.0.0.1, octal and hex parts, brackets and a zone, each of
/// which in <c>--peer</c> or <c>--address</c> is far more likely a typo than a wish.
/// </summary>
internal static class AddressText
{
    /// <summary>Splits and checks <paramref name="text"/>; a missing length means the whole address (/32 or /128).</summary>
    public static bool TryParse(
        string? text,
        [NotNullWhen(true)] out IPAddress? address,
        out int prefixLength,
        [NotNullWhen(false)] out string? error)
    {
        address = null;
        prefixLength = 0;
        if (string.IsNullOrEmpty(text))
        {
            error = "An address is required.";
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text.AsSpan() : text.AsSpan(0, slash);
        if (!TryParseAddress(addressText, out address))
        {
            error = $"'{text}' is not an IPv4 or IPv6 address (expected e.g. 100.64.0.2/32 or fd00:64::2/128).";
            return false;
        }

        var maxLength = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (slash < 0)
        {
            prefixLength = maxLength;
            error = null;
            return true;
        }

        if (!TryParseLength(text.AsSpan(slash + 1), out prefixLength) || prefixLength > maxLength)
        {
            address = null;
            error = $"'{text}' has an invalid prefix length: expected a number from 0 to {maxLength}.";
            return false;
        }

        error = null;
        return true;
    }

    private static bool TryParseAddress(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        // Brackets, zones and ports are socket-address syntax, not an address.
        if (text.ContainsAny('[', ']', '%') || !IPAddress.TryParse(text, out address))
        {
            address = null;
            return false;
        }

        // Only the canonical dotted quad survives the round trip: "10", "10.1", "010.0.0.1", "0x0a.0.0.1" do not.
        if (address.AddressFamily == AddressFamily.InterNetwork && !text.SequenceEqual(address.ToString()))
        {
            address = null;
            return false;
        }

        return address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;
    }

    /// <summary>Decimal digits only: no sign, no spaces, at most three digits.</summary>
    private static bool TryParseLength(ReadOnlySpan<char> text, out int length)
    {
        length = 0;
        if (text.IsEmpty || text.Length > 3)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            length = (length * 10) + (c - '0');
        }

        return true;
    }
}
