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

    /// <summary>The circuit broke or closed: the connection inside ends with the reason.</summary>
    public void Down(string reason)
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
            if (_circuit is not null)
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
