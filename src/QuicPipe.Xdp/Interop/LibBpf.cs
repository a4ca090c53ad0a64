namespace QuicPipe.Xdp.Interop;

/// <summary>
/// Debian's libbpf 1.1 (libbpf.so.1). One partial class; one file per native function, each with its C
/// signature. libbpf 1.x reports failures as a negative errno return (int functions) or NULL with errno
/// set (pointer functions).
/// </summary>
internal static partial class LibBpf
{
    internal const string Name = "libbpf.so.1";

    /// <summary>enum bpf_attach_type BPF_XDP.</summary>
    internal const int AttachTypeXdp = 37;

    /// <summary>XDP_FLAGS_SKB_MODE: generic XDP, in the stack after the skb is built.</summary>
    internal const uint XdpFlagsSkbMode = 1U << 1;

    /// <summary>XDP_FLAGS_DRV_MODE: native XDP, in the driver.</summary>
    internal const uint XdpFlagsDrvMode = 1U << 2;

    /// <summary>BPF_ANY for map updates: create or replace.</summary>
    internal const ulong UpdateAny = 0;
}
