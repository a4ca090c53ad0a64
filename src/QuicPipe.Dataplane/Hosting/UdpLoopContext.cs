namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// What a packet stage is built with: the listener it belongs to and which of the listener's receive loops it
/// runs on. Each loop builds its own stages, on the loop's thread's behalf, so a stage holds no state shared
/// with another loop unless it asks for it.
/// </summary>
public sealed class UdpLoopContext
{
    internal UdpLoopContext(ListenerContext listener, int addressIndex, PeerAddress localAddress, int loop)
    {
        Listener = listener;
        AddressIndex = addressIndex;
        LocalAddress = localAddress;
        Loop = loop;
    }

    /// <summary>The listener; its features hold what its services published (a QUIC endpoint, the relay).</summary>
    public ListenerContext Listener { get; }

    /// <summary>Which of the listener's addresses this loop serves (the order of <see cref="ListenerContext.Endpoints"/>).</summary>
    public int AddressIndex { get; }

    /// <summary>The bound address (ephemeral port resolved).</summary>
    public PeerAddress LocalAddress { get; }

    /// <summary>The loop's index among the address's sockets.</summary>
    public int Loop { get; }
}
