using System.Buffers.Binary;
using QuicPipe.Protocol.Mesh;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// The circuits through and ending at this node (docs/circuits.md, "Circuits"): relays each cell from one link to
/// the other under the other side's id, hands the local end's cells to the end-to-end endpoint, and tears circuits
/// down hop by hop. What becomes of a circuit ending here whose hop closed, <paramref name="localHopClosed"/> decides
/// (re-route or end: <see cref="CircuitRerouter"/>).
/// </summary>
/// <remarks>
/// The node's lock (<paramref name="gate"/>) guards the circuit count and the tables' changes; cells cross on the
/// links' endpoint loop threads and only read the tables.
/// </remarks>
internal sealed class CircuitSwitch(Lock gate, CircuitCarrier carrier, Action<LocalCircuit, CircuitHop, NeighborLink?, string, bool> localHopClosed)
{
    // How long a circuit outlives the end-to-end connection in it (CloseAfterAsync).
    private static readonly TimeSpan CleanCloseLinger = TimeSpan.FromSeconds(1);

    // Under gate: the circuits here now (one per hop).
    private int _circuits;

    private long _cellsForwarded;
    private long _cellBytesForwarded;
    private long _cellsDropped;
    private long _cellsForwardedEncrypted;

    /// <summary>Under the gate: the circuits through or ending at this node.</summary>
    public int Count => _circuits;

    public long CellsForwarded => Interlocked.Read(ref _cellsForwarded);

    public long CellBytesForwarded => Interlocked.Read(ref _cellBytesForwarded);

    public long CellsDropped => Interlocked.Read(ref _cellsDropped);

    public long CellsForwardedEncrypted => Interlocked.Read(ref _cellsForwardedEncrypted);

    /// <summary>For tests: sees every cell this node relays from one link to another, as it leaves.</summary>
    public CellTap? ForwardTap { get; set; }

    /// <summary>Under the gate: a new hop, known on its links by its ids from now on.</summary>
    public void Add(CircuitHop hop)
    {
        if (hop.InLink is { } inLink)
        {
            inLink.Hops[hop.InId] = hop;
        }

        if (hop.OutLink is { } outLink)
        {
            outLink.Hops[hop.OutId] = hop;
        }

        _circuits++;
    }

    /// <summary>Under the gate: the hops on <paramref name="links"/> pending or idle for too long.</summary>
    public List<CircuitHop> Stale(IEnumerable<NeighborLink> links, long now, MeshNodeOptions options)
    {
        List<CircuitHop> stale = [];
        foreach (var link in links)
        {
            foreach (var hop in link.Hops.Values)
            {
                var last = hop.LastCellTicks;
                if ((last == 0 && now - hop.CreatedTicks > options.PendingCircuitLifetime.TotalMilliseconds) || (last != 0 && now - last > options.CircuitIdleTimeout.TotalMilliseconds))
                {
                    stale.Add(hop);
                }
            }
        }

        return stale;
    }

    /// <summary>
    /// Once the connection inside has ended, the circuit goes too, a moment later: its CONNECTION_CLOSE (a cell) and
    /// the answers of its closing period still need the circuit, and must reach the other end before the circuit's
    /// close (on the links' streams, which may overtake cells) makes that end think it broke.
    /// </summary>
    public async Task CloseAfterAsync(QuicConnection connection, LocalCircuit circuit)
    {
        try
        {
            await connection.Closed.ConfigureAwait(false);
        }
        catch (QuicConnectionException)
        {
        }

        await Task.Delay(CleanCloseLinger, CancellationToken.None).ConfigureAwait(false);

        // Its hop now (a re-route may have replaced the first); between hops, while a re-route is under way, none.
        if (circuit.Hop is { } hop)
        {
            CloseHop(hop, null, "the end-to-end connection closed", cleanEnd: true);
        }

        lock (gate)
        {
            EndLocal(circuit, "the end-to-end connection closed", clean: true);
        }
    }

    /// <summary>
    /// Tears a circuit down here: forgets it on both its links, tells the side it did not hear it from, and ends the
    /// connection inside if it ends here. <paramref name="from"/>: the link the close came from (null: this node);
    /// <paramref name="cleanEnd"/>: the connection inside ended, so nothing broke.
    /// </summary>
    public void CloseHop(CircuitHop hop, NeighborLink? from, string reason, bool cleanEnd = false)
    {
        if (!hop.TryClose())
        {
            return;
        }

        lock (gate)
        {
            _circuits--;
            if (hop.InLink is { } inLink)
            {
                inLink.Hops.TryRemove(new KeyValuePair<uint, CircuitHop>(hop.InId, hop));
            }

            if (hop.OutLink is { } outLink)
            {
                outLink.Hops.TryRemove(new KeyValuePair<uint, CircuitHop>(hop.OutId, hop));
            }
        }

        // Every side but the one it came from hears of it (both, when it starts here: an expiry).
        if (hop.InLink is { } toOrigin && toOrigin != from)
        {
            toOrigin.Send(new MeshMessage { CircuitClose = new CircuitClose { CircuitId = hop.InId, Reason = reason } });
        }

        if (hop.OutLink is { } toTarget && toTarget != from)
        {
            toTarget.Send(new MeshMessage { CircuitClose = new CircuitClose { CircuitId = hop.OutId, Reason = reason } });
        }

        if (hop.Local is { } local)
        {
            localHopClosed(local, hop, from, reason, cleanEnd);
        }
    }

    /// <summary>Under the gate: the circuit is over here; the connection inside ends with <paramref name="reason"/> unless it ended first.</summary>
    public void EndLocal(LocalCircuit local, string reason, bool clean)
    {
        local.Down(reason, clean);
        carrier.Remove(local);
    }

    /// <summary>A cell that came in a DATAGRAM frame of <paramref name="link"/>: to the local end, or on to the circuit's other link (the link's endpoint loop thread).</summary>
    public void OnCell(NeighborLink link, ReadOnlySpan<byte> cell)
    {
        Span<byte> onward = stackalloc byte[cell.Length];
        cell.CopyTo(onward);
        if (Route(link, onward) is { } next)
        {
            Send(next, onward);
        }
    }

    /// <summary>
    /// A cell that came unprotected on <paramref name="link"/>'s path (the link's endpoint loop thread): to the local
    /// end, or on to the circuit's other link. Returns the connection the endpoint passes it on through, rewritten in
    /// place, with the other received cells of its batch; null when it was delivered, dropped, or sent in a DATAGRAM
    /// frame (the next link wants encrypted hops).
    /// </summary>
    public QuicConnection? OnUnprotectedCell(NeighborLink link, Span<byte> cell)
    {
        if (Route(link, cell) is not { } next)
        {
            return null;
        }

        if (next.EncryptsCells)
        {
            Send(next, cell);
            return null;
        }

        CountForwarded(cell.Length);
        return next.Connection;
    }

    /// <summary>
    /// Where a cell from <paramref name="link"/> goes: delivered to the local end (null), dropped (null, counted), or the
    /// next link, with the circuit's id there already written over the cell's.
    /// </summary>
    private NeighborLink? Route(NeighborLink link, Span<byte> cell)
    {
        if (cell.Length <= MeshProtocol.CellHeaderSize || !link.Hops.TryGetValue(BinaryPrimitives.ReadUInt32BigEndian(cell), out var hop))
        {
            CountDroppedCell();
            return null;
        }

        hop.Touch(Environment.TickCount64);
        if (hop.Local is { } local)
        {
            if (!carrier.Deliver(local, cell[MeshProtocol.CellHeaderSize..]))
            {
                CountDroppedCell();
            }

            return null;
        }

        var (next, id) = hop.Beyond(link);
        if (next is null)
        {
            CountDroppedCell();
            return null;
        }

        BinaryPrimitives.WriteUInt32BigEndian(cell, id);
        ForwardTap?.Invoke(cell);
        return next;
    }

    private void Send(NeighborLink next, ReadOnlySpan<byte> cell)
    {
        if (next.TrySendCell(cell))
        {
            CountForwarded(cell.Length);
            if (next.EncryptsCells)
            {
                Interlocked.Increment(ref _cellsForwardedEncrypted);
            }
        }
        else
        {
            CountDroppedCell();
        }
    }

    private void CountForwarded(int bytes)
    {
        Interlocked.Increment(ref _cellsForwarded);
        Interlocked.Add(ref _cellBytesForwarded, bytes);
    }

    public void CountDroppedCell() => Interlocked.Increment(ref _cellsDropped);
}
