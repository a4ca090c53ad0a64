using QuicPipe.Quic;

namespace QuicPipe.Relay.Internal;

/// <summary>
/// Where the relay's pipelines hand datagrams addressed to the relay itself. Pipelines are built when the
/// listener starts, the control endpoint only once its socket is bound: the slot is filled in between, and
/// emptied before the endpoint goes away.
/// </summary>
internal sealed class LocalHandlerSlot
{
    private volatile QuicSharedSocket? _socket;

    public QuicSharedSocket? Socket
    {
        get => _socket;
        set => _socket = value;
    }
}
