using System.Buffers.Binary;
using QuicPipe.Dataplane;

namespace QuicPipe.Xdp.Internal;

/// <summary>Moves addresses between <see cref="PeerAddress"/>'s raw sockaddr and the program's 16-byte form.</summary>
internal static class AddressCodec
{
    public static byte FamilyOf(PeerAddress address) => address.IsIPv4 ? (byte)PeerAddress.AfInet : (byte)PeerAddress.AfInet6;

    public static void WriteAddress(PeerAddress address, Span<byte> destination)
    {
        ReadOnlySpan<byte> raw = address.Raw;
        destination.Clear();
        if (address.IsIPv4)
        {
            raw.Slice(4, 4).CopyTo(destination);
        }
        else
        {
            raw.Slice(8, 16).CopyTo(destination);
        }
    }

    /// <summary>Builds a sockaddr from the program's family, 16 address bytes and a network-order port.</summary>
    public static PeerAddress ToPeerAddress(byte family, ReadOnlySpan<byte> address, ushort portBigEndian)
    {
        var result = default(PeerAddress);
        var raw = result.Raw;
        BinaryPrimitives.WriteUInt16LittleEndian(raw, family);
        BinaryPrimitives.WriteUInt16LittleEndian(raw[2..], portBigEndian); // already in wire order
        if (family == PeerAddress.AfInet)
        {
            address[..4].CopyTo(raw[4..]);
        }
        else
        {
            address[..16].CopyTo(raw[8..]);
        }

        return result;
    }
}
