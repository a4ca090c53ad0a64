using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>struct rlimit: soft and hard limit (rlim_t, 64 bits on Linux x86-64 and arm64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RLimit
{
    public ulong Current;
    public ulong Maximum;
}
