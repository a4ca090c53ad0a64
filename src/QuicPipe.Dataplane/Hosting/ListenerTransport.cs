namespace QuicPipe.Dataplane.Hosting;

/// <summary>What a listener binds: it decides which handlers fit it (a relay needs UDP, a proxy TCP).</summary>
public enum ListenerTransport
{
    Udp,
    Tcp,

    /// <summary>A TUN device: IP packets in and out, no addresses to bind (the device's own are its options).</summary>
    Tun,
}
