using System.Text;
using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// A circuit that ends here: the synthetic address the end-to-end endpoint knows it by, and the connection inside
/// once there is one. Whichever comes first of "down" and "connection" closes the other. The address outlives a
/// broken hop: a re-route (docs/circuits.md, "Re-route") hangs the same address, and so the same connection, on a
/// new hop.
/// </summary>
internal sealed class LocalCircuit(PeerAddress address, IReadOnlyList<NodeId> path, bool isOrigin, byte[]? key)
{
    private readonly Lock _gate = new();
    private QuicConnection? _connection;
    private MeshCircuit? _circuit;
    private volatile IReadOnlyList<NodeId> _path = path;
    private volatile CircuitHop? _hop;

    public PeerAddress Address { get; } = address;

    /// <summary>The nodes of its current path, the origin first.</summary>
    public IReadOnlyList<NodeId> Path
    {
        get => _path;
        set => _path = value;
    }

    /// <summary>Whether this node dialed it (else it is the target).</summary>
    public bool IsOrigin { get; } = isOrigin;

    /// <summary>The 16 random bytes its first probe carried (null: the origin sent none, so it cannot be resumed).</summary>
    public byte[]? Key { get; } = key;

    /// <summary>Its hop now: a closed one while a re-route is under way.</summary>
    public CircuitHop? Hop
    {
        get => _hop;
        set => _hop = value;
    }

    /// <summary>Why it went down, once it has.</summary>
    public string? DownReason { get; private set; }

    /// <summary>The end-to-end connection's circuit, once bound.</summary>
    public MeshCircuit? Circuit
    {
        get
        {
            lock (_gate)
            {
                return _circuit;
            }
        }
    }

    /// <summary>Binds the end-to-end connection; false (and the connection closed) if the circuit is down already.</summary>
    public bool Bind(QuicConnection connection, MeshCircuit circuit)
    {
        lock (_gate)
        {
            if (DownReason is null)
            {
                _connection = connection;
                _circuit = circuit;
                return true;
            }
        }

        _ = connection.CloseAsync(MeshNode.CircuitDownError, CloseReason(DownReason));
        return false;
    }

    /// <summary>The circuit broke or closed: the connection inside ends with the reason (unless it ended first: <paramref name="clean"/>).</summary>
    public void Down(string reason, bool clean)
    {
        QuicConnection? connection;
        lock (_gate)
        {
            if (DownReason is not null)
            {
                return;
            }

            DownReason = reason;
            connection = _connection;
            // A connection that had ended already (closed by either end) was not cut by this.
            if (_circuit is not null && !clean && _connection?.Closed.IsCompleted != true)
            {
                _circuit.DownReason = reason;
            }
        }

        if (connection is not null && !connection.Closed.IsCompleted)
        {
            _ = connection.CloseAsync(MeshNode.CircuitDownError, CloseReason(reason));
        }
    }

    // The reason names two NodeIds and what the link said, and a failed re-route adds its own: cut to what
    // CONNECTION_CLOSE carries (CloseAsync refuses more). The whole reason stays in the circuit's DownReason.
    private static string CloseReason(string reason)
    {
        var text = $"circuit down: {reason}";
        while (Encoding.UTF8.GetByteCount(text) > QuicConnection.MaxCloseReasonBytes)
        {
            text = text[..^1];
        }

        return text;
    }
}
