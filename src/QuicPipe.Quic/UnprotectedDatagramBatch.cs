using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>
/// Unprotected datagrams (<see cref="QuicConnection.TrySendUnprotectedDatagram"/>) that one thread gathers and sends
/// together: one sendmmsg, with GSO where neighbours in the batch share a destination and size, through a handle of
/// the endpoint's socket of the batch's own. For a sender that makes many at once, such as a circuit's origin, whose
/// end-to-end endpoint hands over a flush of packets at a time. One thread only; the datagrams leave at
/// <see cref="Flush"/> (or when the batch is full).
/// </summary>
public sealed class UnprotectedDatagramBatch : IDisposable
{
    private readonly PacketBatch _batch = new();
    private readonly QuicConnection?[] _senders = new QuicConnection?[PacketBatch.DefaultCapacity];
    private readonly DataplaneCounters _counters = new();
    private QuicEndpoint? _endpoint;
    private UdpBatchSocket? _socket;
    private int _generation;

    /// <summary>
    /// Adds one datagram for <paramref name="connection"/>'s peer: <paramref name="prefix"/> then
    /// <paramref name="payload"/>, after the header. False (counted as the connection's refused) when it cannot go: as
    /// for <see cref="QuicConnection.TrySendUnprotectedDatagram"/>.
    /// </summary>
    public bool TryAdd(QuicConnection connection, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.UnprotectedTargetFor(prefix.Length + payload.Length) is not { } target)
        {
            return false;
        }

        if (_endpoint != connection.Endpoint || _batch.Count == _batch.Capacity)
        {
            Flush();
            _endpoint = connection.Endpoint;
        }

        var index = _batch.Count;
        _batch.Lengths[index] = target.Write(_batch.Slot(index), prefix, payload);
        _batch.ResetSlot(index);
        _batch.Forward(index, target.Remote);
        _senders[index] = connection;
        _batch.Count = index + 1;
        return true;
    }

    /// <summary>Sends what was added; each datagram the kernel refuses is counted as its connection's refused.</summary>
    public void Flush()
    {
        if (_batch.Count == 0 || _endpoint is not { } endpoint)
        {
            return;
        }

        if (Socket(endpoint) is { } socket)
        {
            socket.Send(_batch, _counters);
        }
        else
        {
            // No socket of its own (a virtual or shared one): one at a time, through the endpoint.
            for (var i = 0; i < _batch.Count; i++)
            {
                if (!endpoint.TrySendUnconnected(_batch.Payload(i), _batch.Destinations[i]))
                {
                    _batch.Drop(i, DropReason.SendFailed);
                }
            }
        }

        for (var i = 0; i < _batch.Count; i++)
        {
            var path = _senders[i]!.Unprotected;
            if (_batch.Verdicts[i] == PacketVerdict.Forward)
            {
                path.CountSent();
            }
            else
            {
                path.CountRefused();
            }

            _senders[i] = null;
        }

        _batch.Clear();
    }

    public void Dispose()
    {
        _batch.Clear();
        Array.Clear(_senders);
        _socket?.Dispose();
        _socket = null;
    }

    /// <summary>Our handle on the endpoint's socket, renewed when the endpoint moved to another (or on first use).</summary>
    private UdpBatchSocket? Socket(QuicEndpoint endpoint)
    {
        if (_socket is null || _generation != endpoint.PortGeneration)
        {
            _socket?.Dispose();
            (_socket, _generation) = endpoint.DuplicateSocketForSending();
        }

        return _socket;
    }
}
