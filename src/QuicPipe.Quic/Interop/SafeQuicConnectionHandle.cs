using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

/// <summary>Owns a native <c>qp_conn</c>; releasing it frees the ngtcp2 connection and its TLS session.</summary>
internal sealed class SafeQuicConnectionHandle : SafeHandle
{
    public SafeQuicConnectionHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        QuicShim.ConnDel(handle);
        return true;
    }
}
