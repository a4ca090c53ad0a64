using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

/// <summary>Owns a libbpf <c>struct bpf_object</c>: its maps, programs and their fds close with it.</summary>
internal sealed class SafeBpfObjectHandle : SafeHandle
{
    public SafeBpfObjectHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LibBpf.ObjectClose(handle);
        return true;
    }
}
