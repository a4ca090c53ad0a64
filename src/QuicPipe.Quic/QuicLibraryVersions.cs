using System.Runtime.InteropServices;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic;

/// <summary>
/// The versions of ngtcp2 and GnuTLS this process actually loaded, as the libraries report them at run time (not the
/// headers the shim was built against): a system upgrade changes them without a rebuild, and a bug report needs them.
/// </summary>
public static class QuicLibraryVersions
{
    /// <summary>ngtcp2's version (<c>ngtcp2_version()</c>), e.g. <c>0.12.1</c>.</summary>
    /// <exception cref="DllNotFoundException">The shim or ngtcp2 could not be loaded.</exception>
    public static string Ngtcp2 => Marshal.PtrToStringUTF8(QuicShim.Ngtcp2Version()) ?? "unknown";

    /// <summary>GnuTLS's version (<c>gnutls_check_version(NULL)</c>), e.g. <c>3.7.9</c>.</summary>
    /// <exception cref="DllNotFoundException">The shim or GnuTLS could not be loaded.</exception>
    public static string GnuTls => Marshal.PtrToStringUTF8(QuicShim.GnuTlsVersion()) ?? "unknown";
}
