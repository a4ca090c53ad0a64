using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary><c>struct pollfd { int fd; short events; short revents; }</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct PollFd
{
    [FieldOffset(0)]
    public int Fd;

    [FieldOffset(4)]
    public short Events;

    [FieldOffset(6)]
    public short ReturnedEvents;
}
