using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags);
    // Blocks while the send buffer is full, so it keeps the GC transition.
    [LibraryImport(Name, EntryPoint = "sendmmsg", SetLastError = true)]
    internal static unsafe partial int SendMMsg(SafeFdHandle fd, MMsgHdr* messages, uint count, int flags);
}
