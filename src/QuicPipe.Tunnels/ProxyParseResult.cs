namespace QuicPipe.Tunnels;

/// <summary>What a proxy protocol parser (<see cref="HttpProxyRequest"/>, <see cref="Socks5Greeting"/>, ...) found.</summary>
public enum ProxyParseResult
{
    /// <summary>A whole message; <c>consumed</c> says where it ends.</summary>
    Complete,

    /// <summary>A valid prefix: more bytes are needed.</summary>
    Incomplete,

    /// <summary>Not a valid message of the protocol (wrong version, bad syntax, garbage).</summary>
    Invalid,
}
