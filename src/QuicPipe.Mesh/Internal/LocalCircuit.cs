using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// A circuit that ends here: the synthetic address the end-to-end endpoint knows it by, and the connection inside
/// once there is one. Whichever comes first of "down" and "connection" closes the other.
/// </summary>
internal sealed class LocalCircuit(PeerAddress address, IReadOnlyList<NodeId> path)
{
    private readonly Lock _gate = new();
    private QuicConnection? _connection;
    private MeshCircuit? _circuit;

    public PeerAddress Address { get; } = address;

    public IReadOnlyList<NodeId> Path { get; } = path;

    public CircuitHop? Hop { get; set; }

    /// <summary>Why it went down, once it has.</summary>
    public string? DownReason { get; private set; }

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

        _ = connection.CloseAsync(MeshNode.CircuitDownError, $"circuit down: {DownReason}");
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
            _ = connection.CloseAsync(MeshNode.CircuitDownError, $"circuit down: {reason}");
        }
    }
}
