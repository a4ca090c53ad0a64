using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Lab;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;

namespace QuicPipe.Relay.Tests.Control;

/// <summary>A CID table on a hand-moved clock with a registry over it, and the identities, keys and addresses tests use.</summary>
internal sealed class RegistryFixture
{
    public RegistryFixture(RegistryOptions? options = null, int tableCapacity = 4096, IReadOnlyList<IRouteObserver>? observers = null)
    {
        Table = new CidTable(tableCapacity, Clock);
        Registry = new CidRegistry(Table, options ?? new RegistryOptions(), observers);
    }

    public ManualTimeProvider Clock { get; } = new(1_000_000_000);

    public CidTable Table { get; }

    public CidRegistry Registry { get; }

    public static NodeId Node(int n)
    {
        var bytes = new byte[NodeId.Size];
        BitConverter.TryWriteBytes(bytes, n);
        bytes[31] = 0x5a;
        return new NodeId(bytes);
    }

    /// <summary>A 16-byte CID key unique to <paramref name="n"/>.</summary>
    public static byte[] Key(int n)
    {
        var key = Enumerable.Range(0, 16).Select(i => (byte)(0xc0 + i)).ToArray();
        BitConverter.TryWriteBytes(key, n);
        return key;
    }

    public static PeerAddress Address(int port) => PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, port));

    public static ConnectionId Derived(byte[] key, uint counter) => CidDerivation.Derive(key, counter);

    public static CidRegistrationRequest DerivedRequest(byte[] key, uint first, int window, TimeSpan lifetime = default) =>
        new(key, first, window, [], lifetime);

    public static CidRegistrationRequest ExplicitRequest(IReadOnlyList<ConnectionId> cids, TimeSpan lifetime = default) =>
        new(ReadOnlyMemory<byte>.Empty, 0, 0, cids, lifetime);

    /// <summary>A peer-to-peer CID of 12 bytes that encodes <paramref name="n"/>.</summary>
    public static ConnectionId Cid(int n)
    {
        var bytes = new byte[12];
        BitConverter.TryWriteBytes(bytes.AsSpan(4), n);
        bytes[0] = 0x11;
        return new ConnectionId(bytes);
    }

    /// <summary>Whether the table routes <paramref name="cid"/> to <paramref name="address"/> now.</summary>
    public bool Routes(ConnectionId cid, PeerAddress address) => Table.TryGet(cid, out var route) && route.Endpoint.Equals(address);

    public bool Routes(ConnectionId cid) => Table.TryGet(cid, out _);
}
