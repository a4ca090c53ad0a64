using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // qp_creds *qp_creds_new(const char *cert_pem, const char *key_pem, int *error);
    [LibraryImport(Name, EntryPoint = "qp_creds_new")]
    internal static unsafe partial SafeQuicCredentialsHandle CredsNew(byte* certificatePem, byte* keyPem, out int error);
}
