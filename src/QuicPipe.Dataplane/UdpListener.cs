using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Dataplane;

/// <summary>
/// Serves one UDP address with N sockets bound with SO_REUSEPORT (the kernel spreads flows over
/// them) and one receive loop thread per socket. Each loop runs its own pipeline instance, built by
/// the caller's <c>configure</c> callback and ended by a transmit step on that loop's socket, so
/// stages never share mutable state across threads.
/// </summary>
public sealed class UdpListener : IDisposable
{
    private readonly UdpListenerOptions _options;
    private readonly Action<PipelineBuilder> _configure;
    private readonly ILogger _logger;
    private readonly List<ReceiveLoop> _loops = [];
    private bool _started;
    private bool _disposed;

    public UdpListener(UdpListenerOptions options, Action<PipelineBuilder> configure, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configure);
        options.Validate();
        _options = options;
        _configure = configure;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The bound address (with the ephemeral port resolved once started).</summary>
    public PeerAddress LocalAddress { get; private set; }

    public bool GsoActive => _loops.Count > 0 && _loops[0].Socket.GsoActive;

    public bool GroActive => _loops.Count > 0 && _loops[0].Socket.GroActive;

    /// <summary>Binds every socket, then starts the loops. Throws <see cref="UdpSocketException"/> if a bind fails (nothing is left open).</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started)
        {
            throw new InvalidOperationException("The listener is already started.");
        }

        _started = true;
        var address = _options.Address;
        var sockets = new List<UdpBatchSocket>();
        try
        {
            for (var i = 0; i < _options.Threads; i++)
            {
                var socket = UdpBatchSocket.Bind(address, _options.Socket);
                sockets.Add(socket);

                // Later sockets join the port the first one got, so port 0 means one shared ephemeral port.
                address = socket.LocalAddress;
            }
        }
        catch
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }

            throw;
        }

        LocalAddress = address;
        for (var i = 0; i < sockets.Count; i++)
        {
            var socket = sockets[i];
            var builder = new PipelineBuilder();
            _configure(builder);
            var loop = new ReceiveLoop(socket, new PacketBatch(_options.BatchSize, _options.SlotSize), builder, _logger);
            _loops.Add(loop);
        }

        foreach (var loop in _loops)
        {
            loop.Start($"udp-rx {LocalAddress}");
        }

        _logger.LogInformation(
            "Listening on {Address} with {Threads} socket(s), batch {Batch}, GSO {Gso}, GRO {Gro}",
            LocalAddress,
            _loops.Count,
            _options.BatchSize,
            GsoActive ? "on" : "off",
            GroActive ? "on" : "off");
    }

    /// <summary>
    /// A send-only handle on this listener's (first) socket, so another component can answer from the listener's
    /// address and port (the relay's control service). The caller owns and disposes it.
    /// </summary>
    public UdpBatchSocket DuplicateSocketForSending()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_loops.Count == 0)
        {
            throw new InvalidOperationException("Start the listener first.");
        }

        return _loops[0].Socket.DuplicateForSending();
    }

    /// <summary>Adds every loop's counters into <paramref name="total"/>.</summary>
    public void CollectCounters(DataplaneCounters total)
    {
        foreach (var loop in _loops)
        {
            loop.Counters.AddTo(total);
        }
    }

    /// <summary>Wakes and joins every loop; returns false if one did not stop within <paramref name="timeout"/>.</summary>
    public bool Stop(TimeSpan timeout)
    {
        foreach (var loop in _loops)
        {
            loop.RequestStop();
        }

        // A monotonic clock: a wall-clock step during shutdown must not stretch or cut the wait.
        var elapsed = Stopwatch.StartNew();
        var allStopped = true;
        foreach (var loop in _loops)
        {
            var left = timeout - elapsed.Elapsed;
            allStopped &= loop.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }

        return allStopped;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var stopped = Stop(TimeSpan.FromSeconds(1));
        foreach (var loop in _loops)
        {
            loop.Socket.Dispose();
        }

        // A loop still inside a receive holds its socket's handle, which closes the fd only when the call returns:
        // wait (bounded) so that the port is free once Dispose returns.
        if (!stopped)
        {
            Stop(TimeSpan.FromSeconds(10));
        }
    }
}
