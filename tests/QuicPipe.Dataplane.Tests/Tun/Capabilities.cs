using System.ComponentModel;
using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>capget/capset for the calling thread (Linux capabilities are per thread), to see Create without privilege.</summary>
internal static unsafe partial class Capabilities
{
    public const int NetAdmin = 12;

    // _LINUX_CAPABILITY_VERSION_3: two 32-bit data words.
    private const uint Version3 = 0x20080522;

    /// <summary>Clears <paramref name="capability"/> from the calling thread's effective set.</summary>
    public static void DropEffective(int capability)
    {
        var header = new Header { Version = Version3 };
        var data = stackalloc Data[2];
        if (CapGet(&header, data) != 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "capget");
        }

        data[capability / 32].Effective &= ~(1u << (capability % 32));
        if (CapSet(&header, data) != 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "capset");
        }
    }

    // int capget(cap_user_header_t hdrp, cap_user_data_t datap);
    [LibraryImport("libc.so.6", EntryPoint = "capget", SetLastError = true)]
    private static partial int CapGet(Header* header, Data* data);

    // int capset(cap_user_header_t hdrp, const cap_user_data_t datap);
    [LibraryImport("libc.so.6", EntryPoint = "capset", SetLastError = true)]
    private static partial int CapSet(Header* header, Data* data);

    // struct __user_cap_header_struct { __u32 version; int pid; }: pid 0 is the calling thread.
    [StructLayout(LayoutKind.Sequential)]
    private struct Header
    {
        public uint Version;
        public int Pid;
    }

    // struct __user_cap_data_struct { __u32 effective, permitted, inheritable; }
    [StructLayout(LayoutKind.Sequential)]
    private struct Data
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }
}
