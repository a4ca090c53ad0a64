using QuicPipe.Xdp.Internal;
using QuicPipe.Xdp.Interop;

namespace QuicPipe.Xdp;

/// <summary>
/// The program attached to one interface through a BPF link. Dispose detaches it; if the process dies
/// instead, the kernel closes the link fd and detaches it all the same, so no stale program keeps
/// forwarding with a route table nobody maintains.
/// </summary>
public sealed class XdpAttachment : IDisposable
{
    /// <summary>The driver of virtual Ethernet pairs, where XDP_TX has conditions a NIC does not have.</summary>
    public const string VethDriver = "veth";

    private readonly XdpProgram _program;
    private readonly SafeBpfLinkHandle _link;
    private readonly EthtoolReader? _ethtool;

    internal XdpAttachment(XdpProgram program, SafeBpfLinkHandle link, int interfaceIndex, string? interfaceName, XdpAttachMode mode, string? fallbackReason)
    {
        _program = program;
        _link = link;
        InterfaceIndex = interfaceIndex;
        InterfaceName = interfaceName;
        Mode = mode;
        FallbackReason = fallbackReason;
        if (interfaceName is not null)
        {
            _ethtool = new EthtoolReader(interfaceName);
            Driver = _ethtool.Driver();
        }
    }

    public int InterfaceIndex { get; }

    /// <summary>The interface's name when attached, or null if it could not be resolved.</summary>
    public string? InterfaceName { get; }

    /// <summary>The interface's driver (<see cref="VethDriver"/>, <c>mlx5_core</c>...), or null if it does not say.</summary>
    public string? Driver { get; }

    /// <summary>The mode the program actually runs in.</summary>
    public XdpAttachMode Mode { get; }

    /// <summary>Why native was refused, when the attachment fell back to generic; null otherwise.</summary>
    public string? FallbackReason { get; }

    /// <summary>
    /// Frames the driver failed to transmit for XDP, as it counts them: the sum of its ethtool statistics whose name
    /// mentions both "xdp" and an error (veth: <c>rx_queue_N_xdp_tx_errors</c> and <c>tx_queue_N_xdp_xmit_errors</c>;
    /// mlx5: <c>rx_xdp_tx_err</c>...). The program counts a bounced frame when it returns XDP_TX, before the driver
    /// tries to send it, so this is how a frame lost after the verdict shows. Zero if the driver exports none.
    /// </summary>
    public ulong ReadTransmitErrors()
    {
        ulong sum = 0;
        foreach (var (name, value) in _ethtool?.Statistics() ?? [])
        {
            if (name.Contains("xdp", StringComparison.OrdinalIgnoreCase) && name.Contains("err", StringComparison.OrdinalIgnoreCase))
            {
                sum += value;
            }
        }

        return sum;
    }

    public void Dispose()
    {
        _link.Dispose();
        _ethtool?.Dispose();
        _program.Forget(this);
    }
}
