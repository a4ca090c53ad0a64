namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// Linux values from linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h and linux/if.h: the
/// rtnetlink messages that configure a link, its addresses and its routes.
/// </summary>
internal static class NetlinkConstants
{
    internal const int AfNetlink = 16;
    internal const int AfInet = 2;
    internal const int AfInet6 = 10;
    internal const int SockRaw = 3;
    internal const int NetlinkRoute = 0;

    internal const int SolNetlink = 270;

    // Error acks carry the kernel's explanation ("Nexthop device is not up") as NLMSGERR_ATTR_MSG.
    internal const int NetlinkExtAck = 11;

    // struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }
    internal const int MessageHeaderSize = 16;

    // struct ifinfomsg { u8 family; u8 pad; u16 type; int index; unsigned flags; unsigned change; }
    internal const int IfInfoMsgSize = 16;

    // struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
    internal const int IfAddrMsgSize = 8;

    // struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; unsigned flags; }
    internal const int RtMsgSize = 12;

    internal const ushort NlmsgError = 2;
    internal const ushort NlmsgDone = 3;

    internal const ushort RtmDelLink = 17;
    internal const ushort RtmGetLink = 18;
    internal const ushort RtmSetLink = 19;
    internal const ushort RtmNewAddr = 20;
    internal const ushort RtmNewRoute = 24;

    internal const ushort NlmFRequest = 0x1;
    internal const ushort NlmFAck = 0x4;
    internal const ushort NlmFExcl = 0x200;
    internal const ushort NlmFCreate = 0x400;

    // Flags of an error ack: the echoed request is cut to its header; TLVs follow.
    internal const ushort NlmFCapped = 0x100;
    internal const ushort NlmFAckTlvs = 0x200;

    internal const ushort NlmsgerrAttrMsg = 1;

    // Attribute types carry two flag bits (NLA_F_NESTED, NLA_F_NET_BYTEORDER) above the type.
    internal const ushort AttributeTypeMask = 0x3FFF;

    internal const ushort IflaIfName = 3;
    internal const ushort IflaMtu = 4;
    internal const ushort IflaLinkInfo = 18;
    internal const ushort IflaIfAlias = 20;

    internal const ushort IflaTxQLen = 13;

    internal const ushort IflaInfoKind = 1;
    internal const ushort IflaInfoData = 2;

    internal const ushort IflaTunType = 3;
    internal const ushort IflaTunPersist = 6;

    internal const uint IffUp = 0x1;

    internal const ushort IfaAddress = 1;
    internal const ushort IfaLocal = 2;
    internal const byte IfaFNoDad = 0x02;

    internal const ushort RtaDst = 1;
    internal const ushort RtaOif = 4;
    internal const ushort RtaPriority = 6;

    internal const byte RtTableMain = 254;
    internal const byte RtProtStatic = 4;
    internal const byte RtScopeUniverse = 0;
    internal const byte RtScopeLink = 253;
    internal const byte RtnUnicast = 1;
}
