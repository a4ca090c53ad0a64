namespace QuicPipe.Dataplane.Wire;

/// <summary>Long or short header (RFC 8999 §5: the high bit of the first byte).</summary>
public enum QuicHeaderForm : byte
{
    Short = 0,
    Long = 1,
}

/// <summary>The packet type, where the version is one we know (v1 or v2); otherwise <see cref="Unknown"/>.</summary>
public enum QuicPacketType : byte
{
    Unknown = 0,
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
    VersionNegotiation,
    OneRtt,
}

/// <summary>Known QUIC version numbers.</summary>
public static class QuicVersions
{
    /// <summary>Version negotiation packets carry version 0 (RFC 8999 §6).</summary>
    public const uint Negotiation = 0x00000000;

    /// <summary>QUIC version 1 (RFC 9000).</summary>
    public const uint V1 = 0x00000001;

    /// <summary>QUIC version 2 (RFC 9369).</summary>
    public const uint V2 = 0x6b3343cf;
}

/// <summary>
/// The version-independent fields of one QUIC packet's header (RFC 8999), plus the packet type for
/// versions we know. Only what routing needs: nothing here is decrypted or protected.
/// </summary>
public struct QuicHeader
{
    public QuicHeaderForm Form;

    public QuicPacketType Type;

    /// <summary>The version field of a long header; 0 for short headers (which carry none).</summary>
    public uint Version;

    /// <summary>Destination connection ID: the routing key.</summary>
    public ConnectionId Dcid;

    /// <summary>Source connection ID (long headers only).</summary>
    public ConnectionId Scid;
}
