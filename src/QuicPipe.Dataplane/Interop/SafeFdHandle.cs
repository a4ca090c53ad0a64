using System.Runtime.InteropServices;
using QuicPipe.Interop;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// Owns a file descriptor. SafeHandle's reference count keeps the fd open while a call that was handed
/// the handle is still inside the kernel, so Dispose on one thread cannot close (and let the number be
/// reused) under a recvmmsg blocked on another.
/// </summary>
internal sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
