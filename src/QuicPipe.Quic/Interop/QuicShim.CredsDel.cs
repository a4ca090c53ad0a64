using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // void qp_creds_del(qp_creds *creds);
    [LibraryImport(Name, EntryPoint = "qp_creds_del")]
    internal static partial void CredsDel(nint credentials);
}
