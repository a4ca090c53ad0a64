using System.Runtime.InteropServices;
using QuicPipe.Interop;

namespace QuicPipe.Xdp.Interop;

/// <summary>
/// Owns a shared mapping of a map fd (mmap). The mapping holds its own reference to the map, so the order in which it
/// and the BPF object are released does not matter to the kernel; the owner still unmaps first so no write can reach
/// a map being torn down.
/// </summary>
internal sealed class SafeMemoryMappingHandle : SafeHandle
{
    private SafeMemoryMappingHandle(nint address, nuint length)
        : base(invalidHandleValue: Libc.MapFailed, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public nuint Length { get; }

    public override bool IsInvalid => handle == Libc.MapFailed || handle == 0;

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> read-write and shared; throws on failure.</summary>
    public static SafeMemoryMappingHandle MapShared(int fd, nuint length, string what)
    {
        var address = Libc.Mmap(0, length, Libc.ProtRead | Libc.ProtWrite, Libc.MapShared, fd, 0);
        return address == Libc.MapFailed
            ? throw new XdpException($"mmap({what}, {length} bytes)", Marshal.GetLastPInvokeError())
            : new SafeMemoryMappingHandle(address, length);
    }

    protected override bool ReleaseHandle() => Libc.Munmap(handle, Length) == 0;
}
