using QuicPipe.Xdp.Interop;

namespace QuicPipe.Xdp;

/// <summary>
/// The program attached to one interface through a BPF link. Dispose detaches it; if the process dies
/// instead, the kernel closes the link fd and detaches it all the same, so no stale program keeps
/// forwarding with a route table nobody maintains.
/// </summary>
public sealed class XdpAttachment : IDisposable
{
    private readonly XdpProgram _program;
    private readonly SafeBpfLinkHandle _link;

    internal XdpAttachment(XdpProgram program, SafeBpfLinkHandle link, int interfaceIndex, XdpAttachMode mode, string? fallbackReason)
    {
        _program = program;
        _link = link;
        InterfaceIndex = interfaceIndex;
        Mode = mode;
        FallbackReason = fallbackReason;
    }

    public int InterfaceIndex { get; }

    /// <summary>The mode the program actually runs in.</summary>
    public XdpAttachMode Mode { get; }

    /// <summary>Why native was refused, when the attachment fell back to generic; null otherwise.</summary>
    public string? FallbackReason { get; }

    public void Dispose()
    {
        _link.Dispose();
        _program.Forget(this);
    }
}
