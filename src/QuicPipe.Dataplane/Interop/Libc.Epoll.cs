using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    internal const int EpollCloExec = 0x80000;
    internal const int EpollCtlAdd = 1;
    internal const int EpollCtlDel = 2;

    // int epoll_create1(int flags);
    [LibraryImport(Name, EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    // int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
    [LibraryImport(Name, EntryPoint = "epoll_ctl", SetLastError = true)]
    internal static unsafe partial int EpollCtl(SafeFdHandle epoll, int operation, int fd, EpollEvent* ev);

    // int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents, const struct timespec *timeout,
    //                  const sigset_t *sigmask);  (Linux 5.11, glibc 2.35: a timeout in nanoseconds, not jiffies)
    [LibraryImport(Name, EntryPoint = "epoll_pwait2", SetLastError = true)]
    internal static unsafe partial int EpollPWait2(SafeFdHandle epoll, EpollEvent* events, int count, TimeSpec* timeout, void* signalMask);
}
