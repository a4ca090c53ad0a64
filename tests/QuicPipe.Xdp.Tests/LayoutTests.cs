using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuicPipe.Xdp.Internal;
using QuicPipe.Xdp.Interop;
using Xunit;

namespace QuicPipe.Xdp.Tests;

/// <summary>The C# mirrors of structs that cross into C, against the sizes and offsets in the C headers.</summary>
public sealed class LayoutTests
{
    [Fact]
    public void Program_structs_match_quicpipe_structs_h()
    {
        var route = default(RouteValue);
        var miss = default(MissEventRecord);
        Assert.Equal(20, Unsafe.SizeOf<CidKey>());
        Assert.Equal(36, Unsafe.SizeOf<RouteValue>());
        Assert.Equal(32, Offset(ref route, ref route.PeerPortBigEndian));
        Assert.Equal(34, Offset(ref route, ref route.Family));
        var listen = default(ListenKey);
        Assert.Equal(20, Unsafe.SizeOf<ListenKey>());
        Assert.Equal(1, Offset(ref listen, ref listen.Reserved));
        Assert.Equal(2, Offset(ref listen, ref listen.PortBigEndian));
        Assert.Equal(4, Offset(ref listen, ref Unsafe.As<AddressBytes, byte>(ref listen.Address)));
        Assert.Equal(48, Unsafe.SizeOf<MissEventRecord>());
        Assert.Equal(22, Offset(ref miss, ref miss.SourcePortBigEndian));
        Assert.Equal(24, Offset(ref miss, ref Unsafe.As<AddressBytes, byte>(ref miss.SourceAddress)));
        Assert.Equal(40, Offset(ref miss, ref miss.InterfaceIndex));
        Assert.Equal(44, Offset(ref miss, ref miss.DestinationPortBigEndian));
        Assert.Equal(24, Unsafe.SizeOf<ProgramConfig>());
        Assert.Equal(4, (int)Marshal.OffsetOf<ProgramConfig>(nameof(ProgramConfig.RouteMask)));
        Assert.Equal(8, (int)Marshal.OffsetOf<ProgramConfig>(nameof(ProgramConfig.HashKey0)));
        Assert.Equal(16, (int)Marshal.OffsetOf<ProgramConfig>(nameof(ProgramConfig.HashKey1)));
    }

    [Fact]
    public void A_route_slot_is_one_cache_line_laid_out_as_struct_qp_route_slot()
    {
        var slot = default(RouteSlot);
        Assert.Equal(64, Unsafe.SizeOf<RouteSlot>());
        Assert.Equal(0, Offset(ref slot, ref slot.Sequence));
        Assert.Equal(4, Offset(ref slot, ref slot.State));
        Assert.Equal(8, Offset(ref slot, ref Unsafe.As<CidKey, byte>(ref slot.Cid)));
        Assert.Equal(28, Offset(ref slot, ref Unsafe.As<AddressBytes, byte>(ref slot.Route.PeerAddress)));
        Assert.Equal(44, Offset(ref slot, ref Unsafe.As<AddressBytes, byte>(ref slot.Route.RelayAddress)));
        Assert.Equal(60, Offset(ref slot, ref slot.Route.PeerPortBigEndian));
        Assert.Equal(62, Offset(ref slot, ref slot.Route.Family));
    }

    [Fact]
    public void Libbpf_option_structs_match_libbpf_1_1()
    {
        // From offsetof/sizeof against /usr/include/bpf/bpf.h and libbpf.h (libbpf 1.1.2, x86_64).
        Assert.Equal(80, Unsafe.SizeOf<BpfTestRunOpts>());
        Assert.Equal(28, (int)Marshal.OffsetOf<BpfTestRunOpts>(nameof(BpfTestRunOpts.DataSizeOut)));
        Assert.Equal(56, (int)Marshal.OffsetOf<BpfTestRunOpts>(nameof(BpfTestRunOpts.ReturnValue)));
        Assert.Equal(60, (int)Marshal.OffsetOf<BpfTestRunOpts>(nameof(BpfTestRunOpts.Repeat)));
        Assert.Equal(32, Unsafe.SizeOf<BpfXdpQueryOpts>());
        Assert.Equal(24, (int)Marshal.OffsetOf<BpfXdpQueryOpts>(nameof(BpfXdpQueryOpts.AttachMode)));
        Assert.Equal(8, (int)Marshal.OffsetOf<BpfLinkCreateOpts>(nameof(BpfLinkCreateOpts.Flags)));
    }

    // Marshal.OffsetOf does not know inline arrays; measure the managed layout itself.
    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));
}
