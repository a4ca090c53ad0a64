using System.Runtime.CompilerServices;
using QuicPipe.Dataplane.Interop;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>The structs the TUN device hands the kernel, against glibc's sizes and offsets on LP64 Linux.</summary>
public class TunInteropLayoutTests
{
    [Fact]
    public unsafe void Ifreq_matches_struct_ifreq()
    {
        var value = default(IfReq);
        Assert.Equal(40, Unsafe.SizeOf<IfReq>());
        Assert.Equal(16, (int)((byte*)&value.Flags - (byte*)&value));
        Assert.Equal(0, (int)(value.Name - (byte*)&value));
    }

    [Fact]
    public unsafe void Pollfd_matches_struct_pollfd()
    {
        var value = default(PollFd);
        Assert.Equal(8, Unsafe.SizeOf<PollFd>());
        Assert.Equal(4, (int)((byte*)&value.Events - (byte*)&value));
        Assert.Equal(6, (int)((byte*)&value.ReturnedEvents - (byte*)&value));
    }
}
