namespace QuicPipe.Xdp.Interop;

/// <summary>The errno values the loader branches on.</summary>
internal static class Errno
{
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EINVAL = 22;
    internal const int EOPNOTSUPP = 95;

    /// <summary>The kernel-internal ENOTSUPP some BPF commands return.</summary>
    internal const int ENOTSUPP = 524;
}
