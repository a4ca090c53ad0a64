using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using QuicPipe.Interop;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Whether the process has file descriptors to spare. An accept loop that takes descriptors until the kernel refuses
/// one (EMFILE) leaves none for the .NET runtime, which needs a few to start a thread (it reads /proc and /sys and
/// makes a pipe) and aborts the whole process with "Out of memory." when it cannot; on a busy machine the thread pool
/// starts threads, so a proxy out of descriptors died. So accept loops stop while fewer than <see cref="Spare"/>
/// would be left, and resume once that many can be opened again. (A limit that leaves fewer than that free even when
/// idle is too small to serve from: such a process accepts one client at a time at best.)
/// </summary>
internal static class DescriptorHeadroom
{
    /// <summary>Descriptors left to the rest of the process: a few thread starts at once.</summary>
    public const int Spare = 16;

    /// <summary>
    /// Cheap check after an accept: true when fewer than <see cref="Spare"/> descriptors can be free. Linux gives out
    /// the lowest free number, so every number below <paramref name="accepted"/>'s is in use and at most
    /// (soft limit - 1 - its number) are free.
    /// </summary>
    public static bool IsLowAfter(Socket accepted)
    {
        var limit = SoftLimit();
        var number = accepted.SafeHandle.DangerousGetHandle().ToInt64();
        return limit - 1 - number < Spare;
    }

    /// <summary>Exact check, for a paused loop: opens <see cref="Spare"/> descriptors and closes them again.</summary>
    public static bool IsAvailable()
    {
        var opened = new List<SafeFileHandle>(Spare);
        try
        {
            for (var i = 0; i < Spare; i++)
            {
                opened.Add(File.OpenHandle("/dev/null"));
            }

            return true;
        }
        catch (IOException)
        {
            return false;
        }
        finally
        {
            foreach (var handle in opened)
            {
                handle.Dispose();
            }
        }
    }

    // Read per call, since prlimit can change it from outside.
    private static long SoftLimit() =>
        Libc.GetRLimit(Libc.RlimitNoFile, out var limit) == 0 && limit.Current < long.MaxValue ? (long)limit.Current : long.MaxValue;
}
