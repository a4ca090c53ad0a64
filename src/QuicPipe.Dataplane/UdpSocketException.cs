using System.Runtime.InteropServices;
using QuicPipe.Interop;

namespace QuicPipe.Dataplane;

/// <summary>
/// A socket call failed. The message names the call, the address and the system's error text, as in
/// <c>bind 127.0.0.1:4433: Address already in use</c>.
/// </summary>
public sealed class UdpSocketException : IOException
{
    public UdpSocketException()
    {
    }

    public UdpSocketException(string message)
        : base(message)
    {
    }

    public UdpSocketException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Describes errno <paramref name="errorNumber"/> after <paramref name="operation"/>.</summary>
    public UdpSocketException(string operation, int errorNumber)
        : base($"{operation}: {Marshal.GetPInvokeErrorMessage(errorNumber)}")
    {
        ErrorNumber = errorNumber;
    }

    /// <summary>The Linux errno value, or 0 when the failure did not come from a system call.</summary>
    public int ErrorNumber { get; private init; }

    /// <summary>The address was taken by another socket (EADDRINUSE): a run-time conflict, not a bad flag.</summary>
    public bool AddressInUse => ErrorNumber == Errno.EADDRINUSE;

    /// <summary>"UDP ADDRESS is already in use (another process holds it)", as a TCP server would say.</summary>
    internal static UdpSocketException InUse(in PeerAddress address) =>
        new($"UDP {address} is already in use (another process holds it)") { ErrorNumber = Errno.EADDRINUSE };
}
