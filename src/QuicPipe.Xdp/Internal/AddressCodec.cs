using System.Net;
using QuicPipe.Dataplane;

namespace QuicPipe.Xdp.Internal;

/// <summary>Moves addresses between <see cref="PeerAddress"/> and the program's form: 16 address bytes (IPv4 in the first 4), ports in network order.</summary>
internal static class AddressCodec
{
    public static byte FamilyOf(PeerAddress address) => address.IsIPv4 ? (byte)PeerAddress.AfInet : (byte)PeerAddress.AfInet6;

    public static void WriteAddress(PeerAddress address, Span<byte> destination)
    {
        destination.Clear();
        address.AddressBytes.CopyTo(destination);
    }

    /// <summary>
    /// Builds a sockaddr from the program's family, 16 address bytes and a network-order port. The program
    /// writes only AF_INET or AF_INET6, so any other family value is treated as AF_INET6.
    /// </summary>
    public static PeerAddress ToPeerAddress(byte family, ReadOnlySpan<byte> address, ushort portBigEndian)
    {
        var port = (ushort)IPAddress.NetworkToHostOrder((short)portBigEndian);
        return family == PeerAddress.AfInet
            ? PeerAddress.Create(PeerAddress.AfInet, address[..4], port)
            : PeerAddress.Create(PeerAddress.AfInet6, address[..16], port);
    }
}
