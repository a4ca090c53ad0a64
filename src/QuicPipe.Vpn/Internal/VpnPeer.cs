using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// One peer of the VPN: its connection (dialled on the first packet for it, or accepted from it; the newest wins),
/// the packets held while it is being dialled, and the DATAGRAMs it sends, checked against its prefixes before they
/// reach the TUN device. The TUN reader calls <see cref="Send"/>; each connection's <see cref="PeerDatagramInput"/>
/// asks <see cref="TryAccept"/> on its QUIC loop.
/// </summary>
internal sealed partial class VpnPeer
{
    // How long the TUN reader waits for room in a full connection queue before dropping: long enough for the QUIC
    // loop's turn, short enough that one slow peer barely delays packets for the others.
    private static readonly TimeSpan SendWait = TimeSpan.FromMilliseconds(2);

    private readonly VpnRouter _router;
    private readonly PacketQueue _pending;
    private readonly Lock _lock = new();
    private volatile QuicConnection? _connection;
    private bool _dialing;
    private long _noDialBeforeTicks;

    public VpnPeer(VpnRouter router, int index, VpnPeerOptions options, int pendingPackets, int packetSize)
    {
        _router = router;
        Index = index;
        Options = options;
        _pending = new PacketQueue(Math.Max(1, pendingPackets), packetSize);
    }

    public int Index { get; }

    public VpnPeerOptions Options { get; }

    public QuicConnection? Connection => _connection;

    /// <summary>
    /// TUN reader: one IP packet for this peer. Over the connection if there is one; else held (bounded) and a dial
    /// started, unless one failed within the redial delay.
    /// </summary>
    public void Send(ReadOnlySpan<byte> packet)
    {
        var counters = _router.Counters;
        if (_connection is { Closed.IsCompleted: false } connection)
        {
            if (connection.SendDatagram(packet, SendWait))
            {
                Interlocked.Increment(ref counters.PacketsSent);
                Interlocked.Add(ref counters.BytesSent, packet.Length);
            }
            else
            {
                Interlocked.Increment(ref counters.SendDropped);
            }

            return;
        }

        lock (_lock)
        {
            // Attached since the check above: send as if it had been there.
            if (_connection is { Closed.IsCompleted: false })
            {
                Send(packet);
                return;
            }

            if (!_dialing && Environment.TickCount64 < _noDialBeforeTicks)
            {
                Interlocked.Increment(ref counters.PendingDropped);
                return;
            }

            if (!_pending.TryEnqueue(packet))
            {
                Interlocked.Increment(ref counters.PendingDropped);
            }

            if (!_dialing)
            {
                _dialing = true;
                _ = DialAsync(announcing: false);
            }
        }
    }

    /// <summary>Dials the peer now unless a connection is up or being dialled.</summary>
    public void Announce()
    {
        lock (_lock)
        {
            if (_connection is { Closed.IsCompleted: false } || _dialing)
            {
                return;
            }

            _dialing = true;
            _ = DialAsync(announcing: true);
        }
    }

    /// <summary>A connection to this peer, ours or theirs: it carries the traffic from now on; an older one is closed.</summary>
    public void Attach(QuicConnection connection)
    {
        connection.SetDatagramReceiver(new PeerDatagramInput(this, _router));
        QuicConnection? previous;
        lock (_lock)
        {
            // Under the lock, so a packet that found no connection is either held before this drain or sent after.
            previous = Interlocked.Exchange(ref _connection, connection);
            FlushPending(connection);
        }

        if (previous is not null && previous != connection)
        {
            _ = previous.CloseAsync(0, "replaced by a newer connection");
        }

        _ = connection.Closed.ContinueWith(
            (_, state) => ((VpnPeer)state!).Detach(connection),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        _router.OnPeerConnected(this, connection);
    }

    /// <summary>
    /// A connection's QUIC loop: whether a DATAGRAM from the peer may go into the TUN device: an IP packet whose source
    /// is the peer's. <paramref name="length"/> is the packet's, without trailing bytes. What fails is counted.
    /// </summary>
    public bool TryAccept(ReadOnlySpan<byte> datagram, out int length)
    {
        length = 0;
        var counters = _router.Counters;
        if (!IpPacket.TryParse(datagram, out var packet))
        {
            Interlocked.Increment(ref counters.BadDatagrams);
            return false;
        }

        if (!_router.Routes.TryLookup(packet.Source(datagram), out var owner) || owner != Index)
        {
            Interlocked.Increment(ref counters.Spoofed);
            return false;
        }

        length = packet.TotalLength;
        return true;
    }

    /// <summary>Closes the connection (the VPN stops).</summary>
    public async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _connection, null) is { } connection)
        {
            try
            {
                await connection.CloseAsync(0, "vpn stopping").WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or QuicConnectionException or ObjectDisposedException)
            {
            }
        }
    }

    // A failed announcement (the peer is not at the relay yet, say at a joint start) is no reason to hold off the
    // dial a packet for the peer makes: only a dial that packets waited for imposes the redial delay.
    private async Task DialAsync(bool announcing)
    {
        QuicConnection? connection = null;
        try
        {
            connection = await _router.DialAsync(Options.NodeId).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Unreachable, refused, stopping: the held packets are lost; the next packet after the delay tries again.
            LogDialFailed(_router.Logger, Options.NodeId, e.Message);
        }

        lock (_lock)
        {
            _dialing = false;
            if (connection is null)
            {
                var held = _pending.Clear();
                if (!announcing || held > 0)
                {
                    _noDialBeforeTicks = Environment.TickCount64 + (long)_router.Options.RedialDelay.TotalMilliseconds;
                }

                Interlocked.Add(ref _router.Counters.PendingDropped, held);
                return;
            }
        }

        Attach(connection);
    }

    private void FlushPending(QuicConnection connection) =>
        _pending.Drain((this, connection), static (state, packet) => state.Item1.SendHeld(state.connection, packet));

    private void SendHeld(QuicConnection connection, ReadOnlySpan<byte> packet)
    {
        var counters = _router.Counters;
        if (connection.TrySendDatagram(packet))
        {
            Interlocked.Increment(ref counters.PacketsSent);
            Interlocked.Add(ref counters.BytesSent, packet.Length);
        }
        else
        {
            Interlocked.Increment(ref counters.PendingDropped);
        }
    }

    private void Detach(QuicConnection connection)
    {
        Interlocked.CompareExchange(ref _connection, null, connection);
        _router.OnPeerDisconnected(this, connection);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "vpn: dialing {Peer} failed: {Reason}")]
    private static partial void LogDialFailed(ILogger logger, NodeId peer, string reason);
}
