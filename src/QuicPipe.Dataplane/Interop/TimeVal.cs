using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary><c>struct timeval { time_t tv_sec; suseconds_t tv_usec; }</c> (16 bytes on LP64 Linux), for SO_RCVTIMEO.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct TimeVal
{
    [FieldOffset(0)]
    public long Seconds;

    [FieldOffset(8)]
    public long Microseconds;
}
