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

    /// <summary>
    /// A route whose port, owner and expiry all encode <paramref name="n"/> (below 65536) and
    /// <paramref name="generation"/> (odd generations are IPv6), so a route torn between two writes
    /// of the same key is as detectable as another key's route.
    /// </summary>
    public static CidRoute RouteFor(int n, int generation = 0) =>
        new(Endpoint(n, ipv6: (generation & 1) != 0), (uint)n | ((ulong)generation << 32), long.MaxValue - n - ((long)generation << 40));

    public static bool Encodes(in CidRoute route, int n)
    {
        var generation = (int)(route.OwnerId >> 32);
        return route.Endpoint.Port == n &&
            (uint)route.OwnerId == (uint)n &&
            route.Endpoint.IsIPv6 == ((generation & 1) != 0) &&
            route.ExpiresAtMs == long.MaxValue - n - ((long)generation << 40);
    }

    public static PeerAddress Endpoint(int port, bool ipv6 = false) =>
        PeerAddress.FromEndPoint(new IPEndPoint(ipv6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, port));
}
