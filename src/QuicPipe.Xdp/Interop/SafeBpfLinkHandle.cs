using System.Runtime.InteropServices;
using QuicPipe.Interop;

namespace QuicPipe.Xdp.Interop;

/// <summary>
/// Owns a BPF link fd. The kernel detaches the program when the last reference to the link goes, so a
/// process that dies (even by SIGKILL) leaves no program attached: the kernel closes its fds.
/// </summary>
internal sealed class SafeBpfLinkHandle : SafeHandle
{
    public SafeBpfLinkHandle(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
