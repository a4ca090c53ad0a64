using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Internal;

/// <summary>Throws for failed socket calls, out of line so the calling paths stay small.</summary>
internal static class ThrowHelper
{
    /// <summary>Throws "<paramref name="call"/> ADDRESS: strerror(errno)" for the errno of the last P/Invoke.</summary>
    [DoesNotReturn]
    internal static void ThrowLastError(string call, in PeerAddress address)
    {
        // Read errno before formatting: building the message runs managed code that may overwrite it.
        var errno = Marshal.GetLastPInvokeError();
        throw new UdpSocketException($"{call} {address}", errno);
    }
}
