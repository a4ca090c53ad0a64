using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// Crossed dials: A and B dial each other at the same moment. Exactly one connection survives, the same on both
/// sides and without a round of negotiation: the one dialed by the peer whose NodeId sorts first (byte order). That
/// peer refuses the other's request as "crossed"; the other answers it, and its own dial completes with the
/// incoming connection instead of making a second one. (A direct and a relayed attempt never race: the direct path
/// is the same connection, migrated.)
/// </summary>
public sealed partial class PeerEndpoint
{
    // Written by the connection handler of each incoming connection; read by AcceptAsync. Bounded: a handler waits
    // for room, so unaccepted connections stay few (the QUIC endpoint's handshake limits bound the rest).
    private readonly Channel<QuicConnection> _accepted = Channel.CreateBounded<QuicConnection>(new BoundedChannelOptions(64));
    private readonly ConcurrentDictionary<NodeId, PendingDial> _crossed = new();

    private static bool SortsFirst(NodeId a, NodeId b) => a.Bytes.SequenceCompareTo(b.Bytes) < 0;

    private bool Allows(NodeId dialer) => _options.AllowAnyDialer || _options.AllowedDialers.Contains(dialer);

    /// <summary>
    /// A dial request from <paramref name="dialer"/> while we are dialing it: true if ours wins, and the request is to
    /// be refused as crossed (ours wins while it is in progress, answered or not). If theirs wins and ours is still
    /// waiting for its answer, ours waits for their connection instead.
    /// </summary>
    private bool OursWinsCrossedDial(NodeId dialer, DialRequest request)
    {
        var ours = _dials.Values.Where(d => d.Peer == dialer).ToList();
        if (ours.Count == 0)
        {
            return false;
        }

        if (SortsFirst(NodeId, dialer) && request.AcceptsReverse)
        {
            LogCrossedDial(_logger, dialer, "ours");
            return true;
        }

        if (Allows(dialer) && ours.FirstOrDefault(d => !d.Answer.Task.IsCompleted) is { } waiting)
        {
            LogCrossedDial(_logger, dialer, "theirs");
            MarkCrossed(waiting);
        }

        return false;
    }

    /// <summary>Our dial will complete with the peer's incoming connection rather than one of its own.</summary>
    private void MarkCrossed(PendingDial dial)
    {
        dial.Crossed = true;
        _crossed[dial.Peer] = dial;
    }

    /// <summary>
    /// The middleware in front of the handler of the peer's incoming connections (its listener's QUIC endpoint,
    /// <see cref="PeerListenerBuilderExtensions.UsePeer"/>): tracks the connection's path, and hands it to the crossed
    /// dial waiting for it (living as long as the connection: when a handler returns, the server closes its
    /// connection) or to the application's handler, <paramref name="next"/>.
    /// </summary>
    internal MultiplexedConnectionDelegate Accepting(MultiplexedConnectionDelegate next) => async context =>
    {
        var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
        var closing = context.Features.GetRequiredFeature<IConnectionLifetimeNotificationFeature>().ConnectionClosedRequested;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(closing, _stopping.Token);
        try
        {
            await TrackAsync(connection, stop.Token).ConfigureAwait(false);
            if (connection.RemoteNodeId is { } peer && _crossed.TryRemove(peer, out var dial) && dial.Incoming.TrySetResult(connection))
            {
                await connection.Closed.WaitAsync(stop.Token).ConfigureAwait(false);
                return;
            }
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException or OperationCanceledException)
        {
            // Gone already, or the server or the peer is stopping: the connection ends with this handler.
            return;
        }

        await next(context).ConfigureAwait(false);
    };

    /// <summary>
    /// The handler when the application gives none: the connection waits for <see cref="AcceptAsync"/>, and the
    /// handler lives as long as the connection or until the server or the peer stops.
    /// </summary>
    internal async Task QueueForAcceptAsync(MultiplexedConnectionContext context)
    {
        var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
        var closing = context.Features.GetRequiredFeature<IConnectionLifetimeNotificationFeature>().ConnectionClosedRequested;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(closing, _stopping.Token);
        try
        {
            await _accepted.Writer.WriteAsync(connection, stop.Token).ConfigureAwait(false);
            await connection.Closed.WaitAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException or OperationCanceledException or ChannelClosedException)
        {
            // The connection failed, the endpoint failed (Completion), or the server is stopping.
        }
    }

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Crossed dials with {Peer}: keeping {Which}")]
    private static partial void LogCrossedDial(ILogger logger, NodeId peer, string which);
}
