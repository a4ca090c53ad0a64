using System.Runtime.CompilerServices;
using QuicPipe.Dataplane.Interop;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

/// <summary>
/// The mirrored C structs must match glibc on x86_64 Linux byte for byte: the kernel reads them blind.
/// Expected values are offsetof/sizeof printed by a C program against the system headers.
/// </summary>
public class InteropLayoutTests
{
    [Fact]
    public unsafe void Iovec_matches_struct_iovec()
    {
        var value = default(IoVec);
        Assert.Equal(16, Unsafe.SizeOf<IoVec>());
        Assert.Equal(0, (int)((byte*)&value.Base - (byte*)&value));
        Assert.Equal(8, Offset(ref value, ref Unsafe.As<nuint, byte>(ref value.Length)));
    }

    [Fact]
    public void Msghdr_matches_struct_msghdr()
    {
        var value = default(MsgHdr);
        Assert.Equal(56, Unsafe.SizeOf<MsgHdr>());
        Assert.Equal(8, Offset(ref value, ref Unsafe.As<uint, byte>(ref value.NameLength)));
        Assert.Equal(24, Offset(ref value, ref Unsafe.As<nuint, byte>(ref value.IovLength)));
        Assert.Equal(40, Offset(ref value, ref Unsafe.As<nuint, byte>(ref value.ControlLength)));
        Assert.Equal(48, Offset(ref value, ref Unsafe.As<int, byte>(ref value.Flags)));
        AssertPointerOffsets();
    }

    [Fact]
    public void Mmsghdr_matches_struct_mmsghdr()
    {
        var value = default(MMsgHdr);
        Assert.Equal(64, Unsafe.SizeOf<MMsgHdr>());
        Assert.Equal(0, Offset(ref value, ref Unsafe.As<MsgHdr, byte>(ref value.Header)));
        Assert.Equal(56, Offset(ref value, ref Unsafe.As<uint, byte>(ref value.Length)));
    }

    [Fact]
    public void Cmsghdr_matches_struct_cmsghdr_and_the_cmsg_macros()
    {
        var value = default(CmsgHdr);
        Assert.Equal(16, Unsafe.SizeOf<CmsgHdr>());
        Assert.Equal(0, Offset(ref value, ref Unsafe.As<nuint, byte>(ref value.Length)));
        Assert.Equal(8, Offset(ref value, ref Unsafe.As<int, byte>(ref value.Level)));
        Assert.Equal(12, Offset(ref value, ref Unsafe.As<int, byte>(ref value.Type)));
        Assert.Equal(18, CmsgHdr.Len(sizeof(ushort)));
        Assert.Equal(24, CmsgHdr.Space(sizeof(ushort)));
        Assert.Equal(24, CmsgHdr.Space(sizeof(int)));
    }

    [Fact]
    public void Timeval_matches_struct_timeval()
    {
        var value = default(TimeVal);
        Assert.Equal(16, Unsafe.SizeOf<TimeVal>());
        Assert.Equal(0, Offset(ref value, ref Unsafe.As<long, byte>(ref value.Seconds)));
        Assert.Equal(8, Offset(ref value, ref Unsafe.As<long, byte>(ref value.Microseconds)));
    }

    [Fact]
    public void Peer_address_fits_sockaddr_in6()
    {
        Assert.Equal(28, Unsafe.SizeOf<PeerAddress>());
    }

    private static unsafe void AssertPointerOffsets()
    {
        var value = default(MsgHdr);
        var start = (byte*)&value;
        Assert.Equal(0, (int)((byte*)&value.Name - start));
        Assert.Equal(16, (int)((byte*)&value.Iov - start));
        Assert.Equal(32, (int)((byte*)&value.Control - start));
    }

    private static int Offset<T>(ref T value, ref byte field)
        where T : struct
        => (int)Unsafe.ByteOffset(ref Unsafe.As<T, byte>(ref value), ref field);
}
