using System.Buffers.Binary;
using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Wire;

namespace QuicPipe.Benchmarks;

/// <summary>Deterministic CIDs, addresses and packets shared by the benchmarks.</summary>
internal static class BenchmarkData
{
    public const int CidLength = 12;

    public static readonly PeerAddress Sender = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("198.51.100.7"), 40000));

    public static ConnectionId Cid(int index)
    {
        Span<byte> bytes = stackalloc byte[CidLength];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)index * 0x9E3779B97F4A7C15UL);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[8..], index);
        return new ConnectionId(bytes);
    }

    public static PeerAddress Endpoint(int index) =>
        PeerAddress.FromEndPoint(new IPEndPoint(new IPAddress(0xC0000200u + (uint)(index % 200)), 1024 + (index % 50_000)));

    public static byte[] ShortPacket(int index, int size = 1200)
    {
        var packet = new byte[size];
        QuicPacketWriter.WriteShortHeader(packet, Cid(index).Span, size - 1 - CidLength);
        return packet;
    }

    public static CidTable FilledTable(int routes)
    {
        var table = new CidTable(routes * 2);
        for (var i = 0; i < routes; i++)
        {
            table.Set(Cid(i), new CidRoute(Endpoint(i), 1, long.MaxValue));
        }

        return table;
    }
}
