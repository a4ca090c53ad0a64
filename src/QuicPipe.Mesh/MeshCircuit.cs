using QuicPipe.Quic;

namespace QuicPipe.Mesh;

/// <summary>
/// An established circuit's end: the end-to-end QUIC connection inside it (pinned to the other end's NodeId, so
/// the nodes between see only ciphertext) and the path it takes.
/// </summary>
public sealed class MeshCircuit
{
    internal MeshCircuit(QuicConnection connection, IReadOnlyList<NodeId> path, TimeSpan rtt)
    {
        Connection = connection;
        Path = path;
        Rtt = rtt;
    }

    /// <summary>The end-to-end connection: streams and DATAGRAMs as over any other path.</summary>
    public QuicConnection Connection { get; }

    /// <summary>The nodes of the circuit, the origin first and the target last.</summary>
    public IReadOnlyList<NodeId> Path { get; }

    /// <summary>The nodes between the ends.</summary>
    public IEnumerable<NodeId> Via => Path.Skip(1).SkipLast(1);

    /// <summary>The other end.</summary>
    public NodeId Peer => Connection.IsServer ? Path[0] : Path[^1];

    /// <summary>Round-trip time through the circuit, measured over the end-to-end handshake.</summary>
    public TimeSpan Rtt { get; }

    /// <summary>Why the circuit went down, once it has (null while up or after a clean close).</summary>
    public string? DownReason { get; internal set; }
}
