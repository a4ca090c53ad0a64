using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>
/// Hears which identities are registered at this relay itself (not another relay's peers routed through it), so a
/// fleet directory can publish them. Called under the registry's lock: an observer queues and returns.
/// </summary>
internal interface ILocalIdentityObserver
{
    void OnLocalIdentityAdded(NodeId node);

    void OnLocalIdentityRemoved(NodeId node);
}
