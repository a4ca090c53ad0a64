using Microsoft.Extensions.Hosting.Systemd;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Tells a service manager (systemd, <c>Type=notify</c>) how a long-running command is doing, over the datagram socket
/// named by <c>NOTIFY_SOCKET</c> (the sd_notify protocol; does nothing when the variable is unset). The commands call
/// <see cref="Ready"/> themselves, once they really serve: the generic host's own systemd lifetime would say READY=1 when
/// its services have started, which for a peer is before it has registered with its relay, and a unit ordered
/// <c>After=</c> this one would start against a peer nobody can reach yet.
/// </summary>
internal sealed class ServiceNotifier
{
    // Reads NOTIFY_SOCKET once; without it every Notify is a no-op.
    private readonly SystemdNotifier _notifier = new();
    private int _stopping;

    /// <summary>READY=1: the relay's sockets are bound, or the peer is registered with its relay (and a VPN's device is up).</summary>
    public void Ready() => _notifier.Notify(ServiceState.Ready);

    /// <summary>STOPPING=1 once, when <paramref name="stop"/> fires (SIGTERM, SIGINT, a loop that died).</summary>
    public CancellationTokenRegistration StoppingOn(CancellationToken stop) => stop.Register(() =>
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 0)
        {
            _notifier.Notify(ServiceState.Stopping);
        }
    });
}
