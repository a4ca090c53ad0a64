using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Interop;
using static QuicPipe.Dataplane.Interop.NetlinkConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// A NETLINK_ROUTE socket that configures links, addresses and routes one acknowledged request at a time.
/// The socket lives in the network namespace of the thread that opened it, so a device configured through it
/// is found there whichever thread calls later. Each request returns 0 or the errno of the kernel's refusal,
/// with the kernel's own explanation (extended ack) in <see cref="LastErrorDetail"/>.
/// </summary>
internal sealed unsafe class RtNetlinkSocket : IDisposable
{
    // Replies to our requests are one link dump or one ack; 32 KiB holds either with room to spare.
    private readonly byte[] _receiveBuffer = new byte[32 * 1024];
    private readonly byte[] _requestBuffer = new byte[1024];
    private readonly SafeFdHandle _fd;
    private uint _sequence;

    private RtNetlinkSocket(SafeFdHandle fd)
    {
        _fd = fd;
    }

    /// <summary>The kernel's extended-ack text for the last refused request, or null when it gave none.</summary>
    public string? LastErrorDetail { get; private set; }

    /// <summary>Opens the socket; returns null with the errno when the kernel refuses.</summary>
    public static RtNetlinkSocket? TryOpen(out int errorNumber)
    {
        var fd = Libc.Socket(AfNetlink, SockRaw | SocketConstants.SockCloexec, NetlinkRoute);
        if (fd < 0)
        {
            errorNumber = Marshal.GetLastPInvokeError();
            return null;
        }

        var handle = new SafeFdHandle(fd);

        // Both are best effort: without extended acks errors lose their detail, without a timeout a kernel that
        // never answers would hang us, and rtnetlink answers every request before sendto returns anyway.
        var one = 1;
        _ = Libc.SetSockOpt(handle, SolNetlink, NetlinkExtAck, &one, sizeof(int));
        var timeout = new TimeVal { Seconds = 5 };
        _ = Libc.SetSockOpt(handle, SocketConstants.SolSocket, SocketConstants.SoRcvtimeo, &timeout, (uint)sizeof(TimeVal));
        errorNumber = 0;
        return new RtNetlinkSocket(handle);
    }

    /// <summary>RTM_GETLINK by name. Returns ENODEV when no device has that name.</summary>
    public int GetLink(string name, out NetlinkLink link)
    {
        var writer = Begin(RtmGetLink, NlmFRequest);
        writer.WriteIfInfo(0, 0, 0);
        writer.AddString(IflaIfName, name);
        link = default;
        var error = Transact(writer.Message, out var reply);
        if (error == 0)
        {
            link = ParseLink(_receiveBuffer.AsSpan(reply));
        }

        return error;
    }

    /// <summary>RTM_SETLINK: the MTU and the alias that marks the device as ours.</summary>
    public int SetMtuAndAlias(int index, int mtu, int transmitQueueLength, string alias)
    {
        var writer = Begin(RtmSetLink, NlmFRequest | NlmFAck);
        writer.WriteIfInfo(index, 0, 0);
        writer.AddUInt32(IflaMtu, (uint)mtu);
        writer.AddUInt32(IflaTxQLen, (uint)transmitQueueLength);
        writer.AddString(IflaIfAlias, alias);
        return Transact(writer.Message, out _);
    }

    /// <summary>RTM_SETLINK with IFF_UP in both flags and change mask.</summary>
    public int SetUp(int index)
    {
        var writer = Begin(RtmSetLink, NlmFRequest | NlmFAck);
        writer.WriteIfInfo(index, IffUp, IffUp);
        return Transact(writer.Message, out _);
    }

    /// <summary>RTM_DELLINK: the kernel takes the link's addresses and routes with it.</summary>
    public int DeleteLink(int index)
    {
        var writer = Begin(RtmDelLink, NlmFRequest | NlmFAck);
        writer.WriteIfInfo(index, 0, 0);
        return Transact(writer.Message, out _);
    }

    /// <summary>RTM_NEWADDR, exclusive: an address the link already has is refused with EEXIST.</summary>
    public int AddAddress(int index, InterfaceAddress address)
    {
        var isIPv6 = address.Address.AddressFamily == AddressFamily.InterNetworkV6;
        var writer = Begin(RtmNewAddr, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl);

        // A TUN link has no neighbours to collide with; duplicate address detection would only hold an IPv6
        // address tentative (unusable as a source) for a second after the link comes up.
        writer.WriteIfAddr(isIPv6 ? (byte)AfInet6 : (byte)AfInet, (byte)address.PrefixLength, isIPv6 ? IfaFNoDad : (byte)0, index);

        // What `ip addr add` sends: IFA_LOCAL is the address, IFA_ADDRESS the same for a link with no peer.
        writer.AddAddress(IfaLocal, address.Address);
        writer.AddAddress(IfaAddress, address.Address);
        return Transact(writer.Message, out _);
    }

    /// <summary>RTM_NEWROUTE: <paramref name="route"/> via the link, no gateway, metric 0, exclusive.</summary>
    public int AddRoute(int index, IPNetwork route)
    {
        var isIPv6 = route.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6;
        var writer = Begin(RtmNewRoute, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl);

        // The scopes `ip route add PREFIX dev NAME` picks: link for IPv4 (the destination is on the wire),
        // universe for IPv6, whose routes carry no scope.
        writer.WriteRtMsg(isIPv6 ? (byte)AfInet6 : (byte)AfInet, (byte)route.PrefixLength, RtProtStatic, isIPv6 ? RtScopeUniverse : RtScopeLink);
        writer.AddAddress(RtaDst, route.BaseAddress);
        writer.AddUInt32(RtaOif, (uint)index);
        writer.AddUInt32(RtaPriority, 0);
        return Transact(writer.Message, out _);
    }

    public void Dispose() => _fd.Dispose();

    private NetlinkMessageWriter Begin(ushort type, ushort flags) => new(_requestBuffer, type, flags, ++_sequence);

    /// <summary>
    /// Sends one request and reads until its answer: an ack or error (NLMSG_ERROR), or a data reply, whose place in
    /// the receive buffer comes back in <paramref name="reply"/> (payload after the nlmsghdr).
    /// </summary>
    private int Transact(ReadOnlySpan<byte> request, out Range reply)
    {
        reply = default;
        LastErrorDetail = null;
        var sequence = BinaryPrimitives.ReadUInt32LittleEndian(request[8..]);
        fixed (byte* message = request)
        {
            if (Libc.SendTo(_fd, message, (nuint)request.Length, 0, null, 0) < 0)
            {
                return Marshal.GetLastPInvokeError();
            }
        }

        while (true)
        {
            nint received;
            fixed (byte* buffer = _receiveBuffer)
            {
                received = Libc.Recv(_fd, buffer, (nuint)_receiveBuffer.Length, 0);
            }

            if (received < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                return errno;
            }

            var offset = 0;
            while (offset + MessageHeaderSize <= received)
            {
                var span = _receiveBuffer.AsSpan(offset, (int)received - offset);
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span);
                if (length < MessageHeaderSize || length > span.Length)
                {
                    break;
                }

                var type = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(span[6..]);
                var messageSequence = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);

                // Anything else is the tail of an earlier request that gave up on a timeout.
                if (messageSequence == sequence)
                {
                    if (type == NlmsgError)
                    {
                        return ReadAck(span[..length], flags);
                    }

                    if (type != NlmsgDone)
                    {
                        reply = new Range(offset + MessageHeaderSize, offset + length);
                        return 0;
                    }
                }

                offset += NetlinkMessageWriter.Align(length);
            }
        }
    }

    /// <summary>struct nlmsgerr { int error; struct nlmsghdr msg; } after the header, then the extended-ack TLVs.</summary>
    private int ReadAck(ReadOnlySpan<byte> message, ushort flags)
    {
        var payload = message[MessageHeaderSize..];
        var error = -BinaryPrimitives.ReadInt32LittleEndian(payload);
        if (error == 0 || (flags & NlmFAckTlvs) == 0)
        {
            return error;
        }

        // The echoed request: its header only when capped, else the whole request.
        var echoedLength = (flags & NlmFCapped) != 0
            ? MessageHeaderSize
            : (int)BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        var tlvStart = 4 + NetlinkMessageWriter.Align(echoedLength);
        if (tlvStart < payload.Length)
        {
            var attributes = payload[tlvStart..];
            while (NetlinkAttributes.Next(ref attributes, out var type, out var value))
            {
                if (type == NlmsgerrAttrMsg)
                {
                    LastErrorDetail = NetlinkAttributes.String(value);
                }
            }
        }

        return error;
    }

    private static NetlinkLink ParseLink(ReadOnlySpan<byte> payload)
    {
        var index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        string? kind = null;
        string? alias = null;
        var tunType = 0;
        var persistent = false;
        var attributes = payload[IfInfoMsgSize..];
        while (NetlinkAttributes.Next(ref attributes, out var type, out var value))
        {
            if (type == IflaIfAlias)
            {
                alias = NetlinkAttributes.String(value);
            }
            else if (type == IflaLinkInfo)
            {
                var linkInfo = value;
                while (NetlinkAttributes.Next(ref linkInfo, out var infoType, out var infoValue))
                {
                    if (infoType == IflaInfoKind)
                    {
                        kind = NetlinkAttributes.String(infoValue);
                    }
                    else if (infoType == IflaInfoData)
                    {
                        var data = infoValue;
                        while (NetlinkAttributes.Next(ref data, out var dataType, out var dataValue))
                        {
                            switch (dataType)
                            {
                                case IflaTunType when dataValue.Length >= 1:
                                    tunType = dataValue[0];
                                    break;
                                case IflaTunPersist when dataValue.Length >= 1:
                                    persistent = dataValue[0] != 0;
                                    break;
                            }
                        }
                    }
                }
            }
        }

        return new NetlinkLink(index, kind, string.IsNullOrEmpty(alias) ? null : alias, tunType, persistent);
    }
}
