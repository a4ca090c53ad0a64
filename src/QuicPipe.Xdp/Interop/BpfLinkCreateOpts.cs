using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

/// <summary>
/// The head of <c>struct bpf_link_create_opts</c> (size_t sz; __u32 flags; ...). libbpf reads only the
/// fields that fit in <see cref="Size"/>, so mirroring the prefix we use is the documented way to pass
/// the struct (its "sz" forward/backward compatibility scheme).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfLinkCreateOpts
{
    public nuint Size;
    public uint Flags;
    public uint Padding;
}
