namespace QuicPipe.Tunnels;

/// <summary>
/// A SOCKS5 client's first message (RFC 1928 section 3): <c>VER=5 | NMETHODS | METHODS</c>, the authentication
/// methods it offers.
/// </summary>
public readonly record struct Socks5Greeting
{
    /// <summary>The protocol version byte of every SOCKS5 message but the RFC 1929 sub-negotiation.</summary>
    public const byte Version = 0x05;

    /// <summary>Method "no authentication required".</summary>
    public const byte NoAuthentication = 0x00;

    /// <summary>Method "username/password" (RFC 1929).</summary>
    public const byte UserNamePassword = 0x02;

    /// <summary>The server's answer when no offered method is acceptable; the client must then close.</summary>
    public const byte NoAcceptableMethods = 0xFF;

    public Socks5Greeting(ReadOnlyMemory<byte> methods) => Methods = methods;

    public ReadOnlyMemory<byte> Methods { get; }

    public bool Offers(byte method) => Methods.Span.Contains(method);

    /// <summary>Another version, or no methods at all, is invalid. Never throws on any input.</summary>
    public static ProxyParseResult TryParse(ReadOnlySpan<byte> data, out Socks5Greeting greeting, out int consumed)
    {
        greeting = default;
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

        var count = data[1];
        if (count == 0)
        {
            return ProxyParseResult.Invalid;
        }

        if (data.Length < 2 + count)
        {
            return ProxyParseResult.Incomplete;
        }

        greeting = new Socks5Greeting(data.Slice(2, count).ToArray());
        consumed = 2 + count;
        return ProxyParseResult.Complete;
    }
}
