using System.Collections.Concurrent;
using System.Threading.Channels;
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
    private readonly Channel<QuicConnection> _accepted = Channel.CreateBounded<QuicConnection>(new BoundedChannelOptions(64) { SingleWriter = true });
    private readonly ConcurrentDictionary<NodeId, PendingDial> _crossed = new();
    private Task _acceptLoop = Task.CompletedTask;

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

    /// <summary>Hands accepted connections to the crossed dial waiting for them, the rest to <see cref="AcceptAsync"/>.</summary>
    private async Task AcceptLoopAsync(CancellationToken stopping)
    {
        try
        {
            while (true)
            {
                var connection = await _quic.AcceptAsync(stopping).ConfigureAwait(false);
                try
                {
                    await TrackAsync(connection, stopping).ConfigureAwait(false);
                }
                catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException)
                {
                    continue; // gone already
                }

                if (connection.RemoteNodeId is { } peer && _crossed.TryRemove(peer, out var dial) && dial.Incoming.TrySetResult(connection))
                {
                    continue;
                }

                await _accepted.Writer.WriteAsync(connection, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ChannelClosedException)
        {
            // The endpoint failed (PeerEndpoint.Completion.cs): accepting ended with it.
        }
        finally
        {
            _accepted.Writer.TryComplete();
        }
    }

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Crossed dials with {Peer}: keeping {Which}")]
    private static partial void LogCrossedDial(ILogger logger, NodeId peer, string which);
}
