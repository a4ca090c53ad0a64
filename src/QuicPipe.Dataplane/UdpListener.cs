using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane.Diagnostics;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Dataplane;

/// <summary>
/// Serves one UDP address with N sockets bound with SO_REUSEPORT (the kernel spreads flows over
/// them) and one receive loop thread per socket. Each loop runs its own pipeline instance, built by
/// the caller's <c>configure</c> callback and ended by a transmit step on that loop's socket, so
/// stages never share mutable state across threads.
/// </summary>
/// <remarks>
/// Binding and starting are two steps so that what lives on the bound sockets (a QUIC endpoint sending through a
/// duplicate, an XDP program watching the address) can start in between, before the first packet runs the pipeline.
/// </remarks>
public sealed class UdpListener : IDisposable
{
    private readonly UdpListenerOptions _options;
    private readonly ILogger _logger;
    private readonly List<UdpBatchSocket> _sockets = [];
    private readonly List<ReceiveLoop> _loops = [];
    private bool _started;
    private bool _disposed;

    public UdpListener(UdpListenerOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The bound address (with the ephemeral port resolved once bound).</summary>
    public PeerAddress LocalAddress { get; private set; }

    /// <summary>True once <see cref="Bind"/> has succeeded.</summary>
    public bool IsBound => _sockets.Count > 0;

    public bool GsoActive => _sockets.Count > 0 && _sockets[0].GsoActive;

    public bool GroActive => _sockets.Count > 0 && _sockets[0].GroActive;

    /// <summary>Binds every socket. Throws <see cref="UdpSocketException"/> if a bind fails (nothing is left open).</summary>
    public void Bind()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsBound)
        {
            throw new InvalidOperationException("The listener is already bound.");
        }

        var address = _options.Address;
        try
        {
            if (_options.Socket.ReusePort)
            {
                address = ClaimPort(address);
            }

            for (var i = 0; i < _options.Threads; i++)
            {
                var socket = UdpBatchSocket.Bind(address, _options.Socket);
                _sockets.Add(socket);

                // Later sockets join the port the first one got, so port 0 means one shared ephemeral port.
                address = socket.LocalAddress;
            }
        }
        catch
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            _sockets.Clear();
            throw;
        }

        LocalAddress = address;
    }

    /// <summary>
    /// SO_REUSEPORT lets any socket of the same user join the group on a port, so a second relay on our port would
    /// bind without error and take half the traffic; and for port 0 the kernel may hand a reuseport socket a port
    /// that such a group already holds. A socket without SO_REUSEPORT is refused any port a socket holds: one is bound
    /// first, and the group is bound on the port it got once it is closed (a window of microseconds, against
    /// another process that binds the same port in that very instant with SO_REUSEPORT).
    /// </summary>
    private static PeerAddress ClaimPort(PeerAddress address)
    {
        var probe = new UdpSocketOptions { ReusePort = false, EnableGro = false, EnableGso = false, ReceiveBufferBytes = 4096, SendBufferBytes = 4096 };
        using var claim = UdpBatchSocket.Bind(address, probe);
        return claim.LocalAddress;
    }

    /// <summary>
    /// Builds one pipeline per socket (<paramref name="configure"/> gets the loop's index, 0 to Threads - 1) and
    /// starts the loops; binds first if <see cref="Bind"/> was not called.
    /// </summary>
    public void Start(Action<PipelineBuilder, int> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started)
        {
            throw new InvalidOperationException("The listener is already started.");
        }

        _started = true;
        if (!IsBound)
        {
            Bind();
        }

        for (var i = 0; i < _sockets.Count; i++)
        {
            var builder = new PipelineBuilder();
            configure(builder, i);
            _loops.Add(new ReceiveLoop(_sockets[i], new PacketBatch(_options.BatchSize, _options.SlotSize), builder, _logger));
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
    /// Hands each bound socket to <paramref name="run"/> (with its index) instead of starting the listener's own
    /// loops: for a component that must receive on its own thread. The sockets stay the listener's: it closes them.
    /// </summary>
    public void RunOn(Action<UdpBatchSocket, int> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started || !IsBound)
        {
            throw new InvalidOperationException(_started ? "The listener is already started." : "Bind the listener first.");
        }

        _started = true;
        for (var i = 0; i < _sockets.Count; i++)
        {
            run(_sockets[i], i);
        }
    }

    /// <summary>
    /// A send-only handle on this listener's (first) socket, so another component can answer from the listener's
    /// address and port (a QUIC endpoint the listener's pipeline delivers to). The caller owns and disposes it.
    /// </summary>
    public UdpBatchSocket DuplicateSocketForSending()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!IsBound)
        {
            throw new InvalidOperationException("Bind the listener first.");
        }

        return _sockets[0].DuplicateForSending();
    }

    /// <summary>Adds every loop's counters into <paramref name="total"/>.</summary>
    public void CollectCounters(DataplaneCounters total)
    {
        foreach (var loop in _loops)
        {
            loop.Counters.AddTo(total);
        }
    }

    /// <summary>Whether each of the listener's receive loops still runs (empty until started, or when another owner runs the sockets).</summary>
    public IReadOnlyList<LoopLiveness> Liveness => _loops.Select(l => l.Liveness).OfType<LoopLiveness>().ToArray();

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
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        // A loop still inside a receive holds its socket's handle, which closes the fd only when the call returns:
        // wait (bounded) so that the port is free once Dispose returns.
        if (!stopped)
        {
            Stop(TimeSpan.FromSeconds(10));
        }
    }
}
