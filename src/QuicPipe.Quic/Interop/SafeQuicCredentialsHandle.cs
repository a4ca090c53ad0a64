using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

/// <summary>Owns a native <c>qp_creds</c> (our parsed certificate and key), shared by an endpoint's connections.</summary>
internal sealed class SafeQuicCredentialsHandle : SafeHandle
{
    public SafeQuicCredentialsHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        QuicShim.CredsDel(handle);
        return true;
    }
}
