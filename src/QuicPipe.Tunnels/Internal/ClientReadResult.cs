namespace QuicPipe.Tunnels.Internal;

/// <summary>How <see cref="ClientPrefixReader.ReadAsync"/> ended.</summary>
internal enum ClientReadResult
{
    /// <summary>A whole message was parsed.</summary>
    Complete,

    /// <summary>The parser rejected the bytes.</summary>
    Invalid,

    /// <summary>The message does not fit in the reader's buffer.</summary>
    TooLarge,

    /// <summary>The client ended (FIN or reset) before a whole message.</summary>
    Closed,
}
