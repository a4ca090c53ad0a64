using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// Carries the end-to-end endpoint's packets over circuits: each circuit ending here has a synthetic address
/// (fd51:7569:6370:6970::N, port 1: no real network uses it), the endpoint sends to it, and the packet leaves as a cell
/// on the circuit's link; cells arriving for it are handed to the endpoint as if from that address.
/// </summary>
internal sealed class CircuitCarrier(MeshNode node) : IQuicPacketCarrier, IDisposable
{
    private static readonly byte[] Prefix = [0xfd, 0x51, 0x75, 0x69, 0x63, 0x70, 0x69, 0x70];
    private readonly ConcurrentDictionary<PeerAddress, LocalCircuit> _circuits = new();
    private int _next;
    private QuicVirtualSocket? _socket;

    // The end-to-end endpoint's loop thread only: cells leaving here unprotected, sent once per flush.
    private readonly UnprotectedDatagramBatch _unprotected = new();

    /// <summary>The end-to-end endpoint's own address (N = 0).</summary>
    public static PeerAddress LocalAddress { get; } = AddressOf(0);

    public QuicVirtualSocket Socket
    {
        get => _socket ?? throw new InvalidOperationException("The carrier has no socket yet.");
        set => _socket = value;
    }

    public LocalCircuit Add(IReadOnlyList<NodeId> path, bool isOrigin, byte[]? key)
    {
        var circuit = new LocalCircuit(AddressOf((uint)Interlocked.Increment(ref _next)), path, isOrigin, key);
        _circuits[circuit.Address] = circuit;
        return circuit;
    }

    public void Remove(LocalCircuit circuit) => _circuits.TryRemove(circuit.Address, out _);

    public LocalCircuit? Find(PeerAddress address) => _circuits.GetValueOrDefault(address);

    /// <summary>
    /// The live circuit <paramref name="origin"/> dialed to here under <paramref name="key"/>, for its re-route.
    /// A scan: at most MaxCircuits, and re-routes are rare.
    /// </summary>
    public LocalCircuit? FindResumable(NodeId origin, ReadOnlySpan<byte> key)
    {
        foreach (var circuit in _circuits.Values)
        {
            if (!circuit.IsOrigin && circuit.Key is { } mine && circuit.DownReason is null && circuit.Path[0] == origin && CryptographicOperations.FixedTimeEquals(mine, key))
            {
                return circuit;
            }
        }

        return null;
    }

    /// <summary>A cell's packet for the endpoint (the loop thread of the link's endpoint).</summary>
    public bool Deliver(LocalCircuit circuit, ReadOnlySpan<byte> packet) => Socket.TryDeliver(packet, circuit.Address);

    public void Send(ReadOnlySpan<byte> packet, in PeerAddress destination)
    {
        if (!_circuits.TryGetValue(destination, out var circuit) || circuit.Hop is not { IsClosed: false } hop || hop.Beyond(null) is not ({ } link, var id))
        {
            node.CountDroppedCell();
            return;
        }

        hop.Touch(Environment.TickCount64);
        Span<byte> header = stackalloc byte[MeshProtocol.CellHeaderSize];
        BinaryPrimitives.WriteUInt32BigEndian(header, id);
        if (!link.EncryptsCells)
        {
            if (!_unprotected.TryAdd(link.Connection, header, packet))
            {
                node.CountDroppedCell();
            }

            return;
        }

        Span<byte> cell = stackalloc byte[MeshProtocol.CellHeaderSize + packet.Length];
        header.CopyTo(cell);
        packet.CopyTo(cell[MeshProtocol.CellHeaderSize..]);
        if (!link.TrySendCell(cell))
        {
            node.CountDroppedCell();
        }
    }

    /// <summary>The end of the end-to-end endpoint's flush: the unprotected cells gathered leave together.</summary>
    public void Flush() => _unprotected.Flush();

    /// <summary>Once the end-to-end endpoint has stopped: closes the send handle.</summary>
    public void Dispose() => _unprotected.Dispose();

    private static PeerAddress AddressOf(uint number)
    {
        Span<byte> address = stackalloc byte[16];
        Prefix.CopyTo(address);
        BinaryPrimitives.WriteUInt32BigEndian(address[12..], number);
        return PeerAddress.Create(PeerAddress.AfInet6, address, 1);
    }
}
