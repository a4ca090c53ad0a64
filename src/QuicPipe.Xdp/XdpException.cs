using System.Runtime.InteropServices;

namespace QuicPipe.Xdp;

/// <summary>A libbpf or kernel call failed; <see cref="Errno"/> says why.</summary>
public sealed class XdpException : Exception
{
    public XdpException()
    {
    }

    public XdpException(string message)
        : base(message)
    {
    }

    public XdpException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public XdpException(string operation, int errno)
        : base($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Errno = errno;
    }

    public int Errno { get; }
}
