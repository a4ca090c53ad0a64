using System.Buffers.Binary;
using System.Net;
using System.Text;
using static QuicPipe.Dataplane.Interop.NetlinkConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Writes one rtnetlink request into a caller's buffer: the nlmsghdr, a fixed family header, then attributes, each
/// padded to 4 bytes (NLMSG_ALIGN / RTA_ALIGN). Netlink speaks host byte order; addresses stay in network order.
/// </summary>
internal ref struct NetlinkMessageWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public NetlinkMessageWriter(Span<byte> buffer, ushort type, ushort flags, uint sequence)
    {
        _buffer = buffer;
        _buffer[..MessageHeaderSize].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer[8..], sequence);
        _length = MessageHeaderSize;
    }

    /// <summary>The finished message, its nlmsg_len filled in.</summary>
    public readonly ReadOnlySpan<byte> Message
    {
        get
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
            return _buffer[.._length];
        }
    }

    /// <summary>struct ifinfomsg: which link (by index, 0 = by IFLA_IFNAME) and which of its flags to change.</summary>
    public void WriteIfInfo(int index, uint flags, uint change)
    {
        var header = Reserve(IfInfoMsgSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], change);
    }

    /// <summary>struct ifaddrmsg.</summary>
    public void WriteIfAddr(byte family, byte prefixLength, byte flags, int index)
    {
        var header = Reserve(IfAddrMsgSize);
        header[0] = family;
        header[1] = prefixLength;
        header[2] = flags;
        header[3] = RtScopeUniverse;
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], index);
    }

    /// <summary>struct rtmsg for a unicast route in the main table.</summary>
    public void WriteRtMsg(byte family, byte destinationLength, byte protocol, byte scope)
    {
        var header = Reserve(RtMsgSize);
        header[0] = family;
        header[1] = destinationLength;
        header[4] = RtTableMain;
        header[5] = protocol;
        header[6] = scope;
        header[7] = RtnUnicast;
    }

    public void AddUInt32(ushort type, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(ReserveAttribute(type, sizeof(uint)), value);
    }

    /// <summary>A NUL-terminated string attribute (IFLA_IFNAME, IFLA_IFALIAS).</summary>
    public void AddString(ushort type, string value)
    {
        var bytes = ReserveAttribute(type, Encoding.UTF8.GetByteCount(value) + 1);
        bytes[^1] = 0;
        Encoding.UTF8.GetBytes(value, bytes);
    }

    /// <summary>An address in network byte order: 4 bytes for IPv4, 16 for IPv6.</summary>
    public void AddAddress(ushort type, IPAddress address)
    {
        var bytes = ReserveAttribute(type, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 4 : 16);
        if (!address.TryWriteBytes(bytes, out _))
        {
            throw new InvalidOperationException($"The address {address} does not fit its netlink attribute.");
        }
    }

    private Span<byte> ReserveAttribute(ushort type, int valueLength)
    {
        // struct rtattr { unsigned short rta_len; unsigned short rta_type; }, then the value.
        var attribute = Reserve(4 + valueLength);
        BinaryPrimitives.WriteUInt16LittleEndian(attribute, (ushort)(4 + valueLength));
        BinaryPrimitives.WriteUInt16LittleEndian(attribute[2..], type);
        return attribute[4..];
    }

    private Span<byte> Reserve(int length)
    {
        var aligned = Align(length);
        if (_length + aligned > _buffer.Length)
        {
            throw new InvalidOperationException($"A netlink request outgrew its {_buffer.Length}-byte buffer.");
        }

        var span = _buffer.Slice(_length, aligned);
        span.Clear();
        _length += aligned;
        return span[..length];
    }

    internal static int Align(int length) => (length + 3) & ~3;
}
