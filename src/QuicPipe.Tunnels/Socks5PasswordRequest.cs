namespace QuicPipe.Tunnels;

/// <summary>
/// The SOCKS5 username/password sub-negotiation request (RFC 1929): <c>VER=1 | ULEN | UNAME | PLEN | PASSWD</c>.
/// The answer is <c>VER=1 | STATUS</c>, 0 for success; after a failure the server closes.
/// </summary>
public readonly record struct Socks5PasswordRequest
{
    /// <summary>The sub-negotiation's own version byte.</summary>
    public const byte Version = 0x01;

    public Socks5PasswordRequest(ReadOnlyMemory<byte> user, ReadOnlyMemory<byte> password)
    {
        User = user;
        Password = password;
    }

    /// <summary>The user name's bytes as sent (the RFC leaves the encoding open; compared byte for byte).</summary>
    public ReadOnlyMemory<byte> User { get; }

    public ReadOnlyMemory<byte> Password { get; }

    /// <summary>Another version, or an empty user name, is invalid. Never throws on any input.</summary>
    public static ProxyParseResult TryParse(ReadOnlySpan<byte> data, out Socks5PasswordRequest request, out int consumed)
    {
        request = default;
        consumed = 0;
        if (data.IsEmpty)
        {
            return ProxyParseResult.Incomplete;
        }

        if (data[0] != Version)
        {
            return ProxyParseResult.Invalid;
        }

        if (data.Length < 2)
        {
            return ProxyParseResult.Incomplete;
        }

        var userLength = data[1];
        if (userLength == 0)
        {
            return ProxyParseResult.Invalid;
        }

        if (data.Length < 3 + userLength)
        {
            return ProxyParseResult.Incomplete;
        }

        var passwordLength = data[2 + userLength];
        var size = 3 + userLength + passwordLength;
        if (data.Length < size)
        {
            return ProxyParseResult.Incomplete;
        }

        request = new Socks5PasswordRequest(data.Slice(2, userLength).ToArray(), data.Slice(3 + userLength, passwordLength).ToArray());
        consumed = size;
        return ProxyParseResult.Complete;
    }
}
