namespace QuicPipe.Dataplane;

/// <summary>What the pipeline decided for one datagram of a batch.</summary>
public enum PacketVerdict : byte
{
    /// <summary>No stage has decided yet.</summary>
    Pending = 0,

    /// <summary>Send the datagram, unmodified, to <see cref="PacketBatch.Destinations"/> of its slot.</summary>
    Forward,

    /// <summary>The datagram is for this node (its QUIC engine or control service).</summary>
    Local,

    /// <summary>Discard; <see cref="PacketBatch.DropReasons"/> says why and the reason is counted.</summary>
    Drop,

    /// <summary>
    /// For this node, and a stage has already done all there is to do with it (answered a path probe): later stages
    /// leave it alone. Counted as local.
    /// </summary>
    Consumed,
}
