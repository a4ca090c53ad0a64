using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

/// <summary><c>struct bpf_xdp_query_opts</c> (libbpf 1.1): 32 bytes, attach_mode at 24.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfXdpQueryOpts
{
    public nuint Size;
    public uint ProgramId;
    public uint DriverProgramId;
    public uint HardwareProgramId;
    public uint SkbProgramId;
    public byte AttachMode;
    private readonly byte _pad0;
    private readonly ushort _pad1;
    private readonly uint _pad2;
}
