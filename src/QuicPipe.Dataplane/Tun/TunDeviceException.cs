using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Tun;

/// <summary>
/// Creating, configuring or using a TUN device failed. The message is one line a command prints as it is,
/// as in <c>Creating TUN device qp0 needs root or CAP_NET_ADMIN.</c>
/// </summary>
public sealed class TunDeviceException : IOException
{
    public TunDeviceException()
    {
    }

    public TunDeviceException(string message)
        : base(message)
    {
    }

    public TunDeviceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A failure the kernel reported with errno <paramref name="errorNumber"/>.</summary>
    public TunDeviceException(string message, int errorNumber)
        : base(message)
    {
        ErrorNumber = errorNumber;
    }

    /// <summary>The Linux errno value, or 0 when the failure did not come from a system call.</summary>
    public int ErrorNumber { get; }

    /// <summary>The system's text for <paramref name="errorNumber"/>, as strerror gives it ("File exists").</summary>
    internal static string Describe(int errorNumber) => Marshal.GetPInvokeErrorMessage(errorNumber);
}
