using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // const char *qp_ngtcp2_version(void);
    [LibraryImport(Name, EntryPoint = "qp_ngtcp2_version")]
    internal static partial nint Ngtcp2Version();
}
