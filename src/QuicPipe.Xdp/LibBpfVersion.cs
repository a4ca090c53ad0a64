using System.Runtime.InteropServices;
using QuicPipe.Xdp.Interop;

namespace QuicPipe.Xdp;

/// <summary>The version of the libbpf this process loads (libbpf.so.1), as the library reports it at run time.</summary>
public static class LibBpfVersion
{
    /// <summary>
    /// libbpf's version without the leading "v" (<c>libbpf_version_string()</c>: major.minor, e.g. <c>1.1</c>), or null
    /// when libbpf cannot be loaded: only the XDP offload needs it, so its absence is an answer, not a failure.
    /// </summary>
    public static string? Find()
    {
        try
        {
            return Marshal.PtrToStringUTF8(LibBpf.VersionString())?.TrimStart('v');
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
