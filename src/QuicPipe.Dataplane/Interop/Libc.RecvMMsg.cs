using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int recvmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags, struct timespec *timeout);
    // Blocks (SO_RCVTIMEO bounds it), so it keeps the GC transition. The timeout argument is left null:
    // it is only checked between datagrams, so SO_RCVTIMEO is the one that bounds an idle wait.
    [LibraryImport(Name, EntryPoint = "recvmmsg", SetLastError = true)]
    internal static unsafe partial int RecvMMsg(SafeFdHandle fd, MMsgHdr* messages, uint count, int flags, void* timeout);
}
