using QuicPipe.Quic;

namespace QuicPipe.Mesh;

/// <summary>
/// An established circuit's end: the end-to-end QUIC connection inside it (pinned to the other end's NodeId, so
/// the nodes between see only ciphertext) and the path it takes. When a node on the path dies and another path
/// exists, the circuit is re-routed under the same connection: <see cref="Path"/> and <see cref="Rtt"/> change and
/// <see cref="Rerouted"/> is raised.
/// </summary>
public sealed class MeshCircuit
{
    private readonly Lock _gate = new();
    private IReadOnlyList<NodeId> _path;
    private TimeSpan _rtt;

    internal MeshCircuit(QuicConnection connection, IReadOnlyList<NodeId> path, TimeSpan rtt)
    {
        Connection = connection;
        _path = path;
        _rtt = rtt;
    }

    /// <summary>
    /// Raised (on a thread pool thread) each time the circuit took a new path after its old one broke; the
    /// connection inside went on, having seen only loss.
    /// </summary>
    public event EventHandler? Rerouted;

    /// <summary>The end-to-end connection: streams and DATAGRAMs as over any other path.</summary>
    public QuicConnection Connection { get; }

    /// <summary>The nodes of the circuit now, the origin first and the target last.</summary>
    public IReadOnlyList<NodeId> Path
    {
        get
        {
            lock (_gate)
            {
                return _path;
            }
        }
    }

    /// <summary>The nodes between the ends.</summary>
    public IEnumerable<NodeId> Via => Path.Skip(1).SkipLast(1);

    /// <summary>The other end.</summary>
    public NodeId Peer => Connection.IsServer ? Path[0] : Path[^1];

    /// <summary>
    /// Round-trip time through the circuit: measured over the end-to-end handshake, and after a re-route over the
    /// probe that found the new path (at the origin) or the connection's smoothed RTT (at the target).
    /// </summary>
    public TimeSpan Rtt
    {
        get
        {
            lock (_gate)
            {
                return _rtt;
            }
        }
    }

    /// <summary>How many times the circuit was re-routed.</summary>
    public int Reroutes { get; private set; }

    /// <summary>Why the circuit went down, once it has (null while up or after a clean close).</summary>
    public string? DownReason { get; internal set; }

    internal void OnRerouted(IReadOnlyList<NodeId> path, TimeSpan rtt)
    {
        lock (_gate)
        {
            _path = path;
            _rtt = rtt;
            Reroutes++;
        }

        Rerouted?.Invoke(this, EventArgs.Empty);
    }
}
