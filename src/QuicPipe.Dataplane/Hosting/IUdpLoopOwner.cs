using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// A service that receives on a UDP listener's sockets on threads of its own instead of the server's receive loops,
/// because everything it does must happen on the thread that receives (a QUIC endpoint: its timers, queued work and
/// packet processing share one thread). The server still binds the sockets (and closes them after the owner is
/// disposed) and still composes the listener's stages: the owner runs them, ended by its own terminal step.
/// </summary>
public interface IUdpLoopOwner : IListenerService
{
    /// <summary>
    /// Called for every bound socket once the listener's services have started. <paramref name="pipeline"/> builds
    /// the listener's stages for this loop around the owner's terminal step; call it on this call's thread (stages
    /// built later would see the listener's features as they are then).
    /// </summary>
    void Run(UdpLoopContext loop, UdpBatchSocket socket, Func<PacketDelegate, PacketDelegate> pipeline);
}
