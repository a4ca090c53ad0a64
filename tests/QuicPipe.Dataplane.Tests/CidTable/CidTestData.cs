using System.Buffers.Binary;
using System.Net;

namespace QuicPipe.Dataplane.Tests;

/// <summary>Keys and routes that encode a number, so a test can tell whose route it got back.</summary>
internal static class CidTestData
{
    public static ConnectionId Cid(int n, int length = 12)
    {
        Span<byte> bytes = stackalloc byte[ConnectionId.MaxLength];
        bytes.Fill(0xA5);
        BinaryPrimitives.WriteInt32LittleEndian(bytes, n);
        return new ConnectionId(bytes[..length]);
    }

    /// <summary>A route whose port, owner and expiry all encode <paramref name="n"/> (n below 65536).</summary>
    public static CidRoute RouteFor(int n, bool ipv6 = false) =>
        new(Endpoint(n, ipv6), (ulong)n, long.MaxValue - n);

    public static bool Encodes(in CidRoute route, int n) =>
        route.Endpoint.Port == n && route.OwnerId == (ulong)n && route.ExpiresAtMs == long.MaxValue - n;

    public static PeerAddress Endpoint(int port, bool ipv6 = false) =>
        PeerAddress.FromEndPoint(new IPEndPoint(ipv6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, port));
}
