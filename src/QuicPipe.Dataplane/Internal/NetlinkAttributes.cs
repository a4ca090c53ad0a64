using System.Buffers.Binary;
using System.Text;
using static QuicPipe.Dataplane.Interop.NetlinkConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>Reads a run of netlink attributes (struct rtattr / nlattr, 4-byte aligned) from a reply.</summary>
internal static class NetlinkAttributes
{
    /// <summary>Takes the next attribute off <paramref name="attributes"/>; false at the end or on a malformed length.</summary>
    public static bool Next(ref ReadOnlySpan<byte> attributes, out ushort type, out ReadOnlySpan<byte> value)
    {
        type = 0;
        value = default;
        if (attributes.Length < 4)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
        if (length < 4 || length > attributes.Length)
        {
            return false;
        }

        type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]) & AttributeTypeMask);
        value = attributes[4..length];
        attributes = attributes[Math.Min(NetlinkMessageWriter.Align(length), attributes.Length)..];
        return true;
    }

    /// <summary>A string attribute without its terminating NUL.</summary>
    public static string String(ReadOnlySpan<byte> value)
    {
        var end = value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? value : value[..end]);
    }
}
