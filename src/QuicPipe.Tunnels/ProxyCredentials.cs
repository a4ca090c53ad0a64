using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace QuicPipe.Tunnels;

/// <summary>
/// The one user name and password a proxy asks for: HTTP <c>Proxy-Authorization: Basic</c> (RFC 7617) and SOCKS5
/// username/password (RFC 1929). Compared in constant time so the answer's timing does not leak how much matched.
/// </summary>
public sealed class ProxyCredentials
{
    private readonly byte[] _user;
    private readonly byte[] _password;

    public ProxyCredentials(string user, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(password);
        if (user.Contains(':', StringComparison.Ordinal))
        {
            // Basic puts "user:password" in one string split at the first colon.
            throw new ArgumentException("A proxy user name cannot contain ':'.", nameof(user));
        }

        _user = Encoding.UTF8.GetBytes(user);
        _password = Encoding.UTF8.GetBytes(password);
        if (_user.Length > 255 || _password.Length > 255)
        {
            // RFC 1929 carries each in a length byte.
            throw new ArgumentException("A proxy user name and password are at most 255 bytes each (SOCKS5 limit).");
        }
    }

    /// <summary>Parses <c>USER:PASS</c> (split at the first colon; the password may contain colons).</summary>
    public static bool TryParse(string text, out ProxyCredentials? credentials)
    {
        ArgumentNullException.ThrowIfNull(text);
        credentials = null;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || Encoding.UTF8.GetByteCount(text.AsSpan(0, colon)) > 255 || Encoding.UTF8.GetByteCount(text.AsSpan(colon + 1)) > 255)
        {
            return false;
        }

        credentials = new ProxyCredentials(text[..colon], text[(colon + 1)..]);
        return true;
    }

    /// <summary>True when <paramref name="user"/> and <paramref name="password"/> (raw bytes) are the configured ones.</summary>
    public bool Matches(ReadOnlySpan<byte> user, ReadOnlySpan<byte> password) =>
        CryptographicOperations.FixedTimeEquals(user, _user) & CryptographicOperations.FixedTimeEquals(password, _password);

    /// <summary>True when a <c>Proxy-Authorization</c> header value is <c>Basic base64(user:password)</c> with the configured pair.</summary>
    public bool MatchesBasic(string? headerValue)
    {
        const string Scheme = "Basic ";
        if (headerValue is null || !headerValue.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var encoded = Encoding.ASCII.GetBytes(headerValue[Scheme.Length..].Trim());
        var decoded = new byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (Base64.DecodeFromUtf8(encoded, decoded, out _, out var written) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        var pair = decoded.AsSpan(0, written);
        var colon = pair.IndexOf((byte)':');
        return colon >= 0 && Matches(pair[..colon], pair[(colon + 1)..]);
    }
}
