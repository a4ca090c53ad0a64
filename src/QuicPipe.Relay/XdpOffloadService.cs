using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Relay.Diagnostics;
using QuicPipe.Relay.Internal;

namespace QuicPipe.Relay;

/// <summary>
/// The XDP offload as a service beside the relay on a UDP listener (<see cref="RelayListenerBuilderExtensions.UseXdpOffload(UdpListenerBuilder, RelayXdpOptions)"/>).
/// Started after the relay, it attaches a program that watches the listener's bound addresses, observes the relay's
/// route changes and mirrors the routes already there. The relay does not know it exists. Stopping detaches it
/// (the relay forwards everything in userspace again); it is published in the listener's features for its stats.
/// </summary>
public sealed class XdpOffloadService : IListenerService
{
    private readonly RelayXdpOptions _options;
    private readonly RelayRouter _relay;
    private readonly ListenerContext _context;
    private readonly ILogger _logger;
    private XdpOffload? _offload;

    // The offload's instruments while it is attached.
    private XdpOffloadMetrics? _metrics;

    internal XdpOffloadService(RelayXdpOptions options, RelayRouter relay, ListenerContext context, ILogger logger)
    {
        _context = context;
        _options = options;
        _relay = relay;
        _logger = logger;
    }

    /// <summary>The interface the program is (to be) attached to.</summary>
    public string Interface => _options.Interface;

    /// <summary>The running offload (tests reach its program through this); null before start and after stop.</summary>
    internal XdpOffload? Offload => Volatile.Read(ref _offload);

    /// <summary>The offload's instruments (meter QuicPipe.Xdp) while it is attached; null otherwise.</summary>
    public XdpOffloadMetrics? Metrics => Volatile.Read(ref _metrics);

    /// <summary>The offload's counters; null while it is not attached.</summary>
    public XdpOffloadStats? Snapshot() => Offload?.Snapshot();

    /// <summary>Throws <see cref="XdpOffloadException"/> with a message for the operator, leaving nothing attached.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Offload is not null)
        {
            throw new InvalidOperationException($"The XDP offload on {_options.Interface} is already started.");
        }

        // The listener's bound addresses (ports resolved): the program touches traffic to them only.
        var transport = _context.Features.Get<UdpTransport>()
            ?? throw new InvalidOperationException($"{_context}: the XDP offload needs the listener's UDP sockets, and they are not bound.");
        var offload = XdpOffload.Start(_options, _relay.CidLength, _relay.Table, transport.LocalAddresses, _logger);

        // Observe first, then copy what the table already holds: see XdpOffload.MirrorTable for why no change is lost.
        _relay.AddRouteObserver(offload);
        offload.MirrorTable();
        Volatile.Write(ref _offload, offload);
        Volatile.Write(ref _metrics, new XdpOffloadMetrics(Snapshot));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Detach();
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Detach();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Out of the relay's observers first, so new changes stop coming; then unloaded. A change already being told
    /// may still arrive after that, and the disposed offload ignores it.
    /// </summary>
    private void Detach()
    {
        Interlocked.Exchange(ref _metrics, null)?.Dispose();
        if (Interlocked.Exchange(ref _offload, null) is { } offload)
        {
            _relay.RemoveRouteObserver(offload);
            offload.Dispose();
        }
    }
}
