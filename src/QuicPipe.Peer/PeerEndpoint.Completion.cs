using Microsoft.Extensions.Logging;
using QuicPipe.Protocol;

namespace QuicPipe.Peer;

/// <summary>
/// The end of an endpoint: disposed, or failed for good. It fails when another process with the same NodeId (the
/// same key file) takes over its control connection at the relay: taking it back would replace the other process in
/// turn, the two would trade the relay's routes forever, and every switch would break the live connections of both.
/// </summary>
public sealed partial class PeerEndpoint
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Why the endpoint can no longer work, once it cannot; dials and accepts then fail with a copy.
    private volatile PeerException? _failure;

    /// <summary>
    /// Completes when the endpoint is disposed, and faults with a <see cref="PeerException"/> as soon as the endpoint
    /// can no longer work: <see cref="PeerFailure.Replaced"/> when another process with this NodeId registered at the
    /// relay and took over its routes. The endpoint then neither reconnects nor re-registers; <see cref="DialAsync"/>
    /// and <see cref="AcceptAsync"/> fail with the same kind and message. A program that runs until stopped should
    /// watch this, to exit with the message instead of running on unreachable.
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// The relay closed <paramref name="control"/>, our current control connection, because another connection of
    /// our NodeId took over. Our own reconnects never get here: we make a new connection only after dropping the
    /// previous one, and the relay's close of a dropped connection is not watched.
    /// </summary>
    private static bool WasReplaced(RelayControlClient control) => control.CloseErrorCode == RelayProtocol.CloseReplaced;

    private PeerException Replaced(RelayControlClient control)
    {
        var from = ReplacedCloseReason.TryParse(control.CloseReasonPhrase, out var newer) ? $"from {newer} " : string.Empty;
        return new PeerException(
            PeerFailure.Replaced,
            $"Another process with this NodeId ({NodeId}, the same key file) registered at relay {_options.Relay} {from}and took over this one's routes. " +
            "Two processes cannot share one key at one relay: give each its own key ('quicpipe keygen --out FILE'). Not reconnecting.");
    }

    /// <summary>Stops for good: says why once, and ends every dial and accept waiting with <paramref name="failure"/>.</summary>
    private void Fail(PeerException failure)
    {
        _failure = failure;
        LogFailed(_logger, failure.Message);
        foreach (var dial in _dials.Values)
        {
            dial.Answer.TrySetException(CopyFailure(failure));
        }

        _accepted.Writer.TryComplete(failure);
        _completion.TrySetException(failure);
    }

    /// <summary>The failure for one more caller: an exception of its own, not one shared and rethrown everywhere.</summary>
    private static PeerException CopyFailure(PeerException failure) => new(failure.Failure, failure.Message);

    /// <summary>Why there is no control connection to use: the endpoint failed, or the relay is being reconnected.</summary>
    private PeerException NotConnected() =>
        _failure is { } failure ? CopyFailure(failure) : new PeerException(PeerFailure.RelayUnreachable, $"Not connected to relay {_options.Relay}.");

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "{Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
