using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // const char *qp_strerror(int error);
    [LibraryImport(Name, EntryPoint = "qp_strerror")]
    internal static partial nint StrError(int error);
}
