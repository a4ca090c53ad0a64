using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    internal const short PollIn = 0x001;

    // int poll(struct pollfd *fds, nfds_t nfds, int timeout);
    [LibraryImport(Name, EntryPoint = "poll", SetLastError = true)]
    internal static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    // int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo_p, const sigset_t *sigmask);
    // The timeout is a high-resolution timer (plus the thread's timer slack), where poll's and SO_RCVTIMEO's are
    // rounded up to whole jiffies.
    [LibraryImport(Name, EntryPoint = "ppoll", SetLastError = true)]
    internal static unsafe partial int PPoll(PollFd* fds, nuint count, TimeSpec* timeout, void* signalMask);
}
