using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

/// <summary><c>struct bpf_test_run_opts</c> (libbpf 1.1): 80 bytes, retval at 56.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BpfTestRunOpts
{
    public nuint Size;
    public byte* DataIn;
    public byte* DataOut;
    public uint DataSizeIn;
    public uint DataSizeOut;
    public void* ContextIn;
    public void* ContextOut;
    public uint ContextSizeIn;
    public uint ContextSizeOut;
    public uint ReturnValue;
    public int Repeat;
    public uint Duration;
    public uint Flags;
    public uint Cpu;
    public uint BatchSize;
}
