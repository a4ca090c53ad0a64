using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // const char *qp_gnutls_version(void);
    [LibraryImport(Name, EntryPoint = "qp_gnutls_version")]
    internal static partial nint GnuTlsVersion();
}
