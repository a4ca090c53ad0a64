using System.Net;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>The peer's side of the relay: connect, register, refresh, notice loss, reconnect, answer signals.</summary>
public sealed partial class PeerEndpoint
{
    // The relay keeps at most this many derived CIDs per registration (its RegistryOptions default).
    private const int MaxRegisteredWindow = 256;
    private static readonly TimeSpan LongestLivenessWait = TimeSpan.FromSeconds(2);

    // Completed to run the liveness check (ping, re-register on a new address) now instead of at the next interval.
    private TaskCompletionSource _relayCheckNow = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed when the next liveness check to start has ended (either way): what CheckRelayNowAsync waits for.
    private TaskCompletionSource _nextRelayCheckDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Raised after each successful registration (the first, and every re-registration).</summary>
    public event EventHandler<PeerRegisteredEventArgs>? Registered;

    private async Task ConnectRelayAsync(CancellationToken cancellationToken)
    {
        var relay = _options.Relay!;
        RelayControlClient control;
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(_options.DialTimeout);
            control = await RelayControlClient.ConnectAsync(Quic, relay, _relayId, limit.Token).ConfigureAwait(false);
        }
        catch (QuicConnectionException e)
        {
            throw new PeerException(PeerFailure.RelayUnreachable, e.IsPinMismatch ? $"Relay {relay} is not the pinned relay: {e.Message}" : $"Cannot connect to relay {relay}: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerException(PeerFailure.RelayUnreachable, $"Relay {relay} did not answer within {_options.DialTimeout.TotalSeconds:0.#} s (is it running, and is UDP to it open?).");
        }

        if (_relayId is null)
        {
            LogTrustOnFirstUse(_logger, relay, control.RelayNodeId);
            _relayId = control.RelayNodeId;
        }

        try
        {
            await RegisterAsync(control, cancellationToken).ConfigureAwait(false);
            _control = control;
        }
        catch (Exception e) when (e is RelayControlException or OperationCanceledException)
        {
            await control.DisposeAsync().ConfigureAwait(false);
            if (WasReplaced(control))
            {
                // Our newest connection, replaced before it registered: by another process, as any other time.
                throw Replaced(control);
            }

            if (e is RelayControlException refused)
            {
                throw new PeerException(PeerFailure.RelayRefused, $"Relay {relay} refused the registration: {refused.Message}", refused);
            }

            throw;
        }
    }

    /// <summary>
    /// Registers our CID key: every counter from well below the newest one issued (live connections may still use
    /// them) to a window ahead of it. Registering again moves our routes to the address the relay sees now.
    /// </summary>
    private async Task RegisterAsync(RelayControlClient control, CancellationToken cancellationToken)
    {
        var highest = _issuer.HighestCounter;
        var first = (uint)Math.Max(1L, (long)highest + _options.CidWindow - MaxRegisteredWindow + 1);
        var window = (int)(highest + (uint)_options.CidWindow - first + 1);
        var registration = await control.RegisterDerivedAsync(_issuer.Key, first, window, _options.RegistrationLifetime, cancellationToken).ConfigureAwait(false);
        var previous = PublicEndPoint;
        PublicEndPoint = registration.ObservedAddress;
        Registrations++;
        LogRegistered(_logger, _options.Relay!, registration.ObservedAddress, registration.CidCount);
        if (previous is not null && !previous.Equals(registration.ObservedAddress))
        {
            LogPublicAddressChanged(_logger, previous, registration.ObservedAddress);
        }

        Registered?.Invoke(this, new PeerRegisteredEventArgs(registration.ObservedAddress, Registrations));
    }

    /// <summary>
    /// Keeps the registration fresh, watches the relay's liveness, and reconnects when it is lost; stops for good
    /// (<see cref="Completion"/>) when another process with our NodeId took the relay over.
    /// </summary>
    private async Task MaintainAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            var control = _control!;
            var signals = HandleSignalsAsync(control, stopping);
            var reason = await WatchAsync(control, stopping).ConfigureAwait(false);
            if (stopping.IsCancellationRequested)
            {
                break;
            }

            _control = null;
            await control.DisposeAsync().ConfigureAwait(false);
            await signals.ConfigureAwait(false);
            if (WasReplaced(control))
            {
                Fail(Replaced(control));
                return;
            }

            LogRelayLost(_logger, _options.Relay!, reason);
            try
            {
                await ReconnectAsync(stopping).ConfigureAwait(false);
            }
            catch (PeerException e) when (e.Failure == PeerFailure.Replaced)
            {
                Fail(e);
                return;
            }
        }
    }

    /// <summary>Returns why the control connection is considered lost (or null when stopping).</summary>
    private async Task<string?> WatchAsync(RelayControlClient control, CancellationToken stopping)
    {
        var refreshEvery = _options.RegistrationLifetime / 3;
        var nextRefresh = DateTime.UtcNow + refreshEvery;
        var missed = 0;
        var interval = _options.RelayKeepAliveInterval;
        var wait = interval < LongestLivenessWait ? interval : LongestLivenessWait;
        while (!stopping.IsCancellationRequested)
        {
            var tick = Task.Delay(interval, stopping);
            var nowSource = Volatile.Read(ref _relayCheckNow);
            var now = nowSource.Task;
            if (await Task.WhenAny(control.Closed, tick, now).ConfigureAwait(false) == control.Closed)
            {
                return "the control connection closed";
            }

            if (now.IsCompleted)
            {
                Interlocked.CompareExchange(ref _relayCheckNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), nowSource);
            }

            if (stopping.IsCancellationRequested)
            {
                return null;
            }

            var done = Interlocked.Exchange(ref _nextRelayCheckDone, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            limit.CancelAfter(wait);
            try
            {
                var observed = await control.PingAsync(limit.Token).ConfigureAwait(false);
                if (DateTime.UtcNow >= nextRefresh || !observed.Equals(PublicEndPoint))
                {
                    // Due (registering again refreshes it and slides the CID window to what we issued since), or the
                    // relay sees us from a new address (NAT rebinding): registering again moves our routes there.
                    await RegisterAsync(control, limit.Token).ConfigureAwait(false);
                    nextRefresh = DateTime.UtcNow + refreshEvery;
                }

                missed = 0;
            }
            catch (RelayControlException e)
            {
                return e.Message;
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                // Two missed answers in a row: the relay restarted or the path is gone.
                if (++missed >= 2)
                {
                    return $"no answer from the relay for {(interval + wait).TotalSeconds * missed:0} s";
                }
            }
            finally
            {
                done.TrySetResult();
            }
        }

        return null;
    }

    /// <summary>
    /// Runs the relay liveness check now; the task completes when a check that started after this call has ended (it
    /// may never, while the relay is being reconnected: callers bound the wait).
    /// </summary>
    private Task CheckRelayNowAsync()
    {
        var done = Volatile.Read(ref _nextRelayCheckDone).Task;
        Volatile.Read(ref _relayCheckNow).TrySetResult();
        return done;
    }

    private async Task ReconnectAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await ConnectRelayAsync(stopping).ConfigureAwait(false);
                return;
            }
            catch (PeerException e) when (e.Failure != PeerFailure.Replaced)
            {
                LogReconnectFailed(_logger, e.Message, delay.TotalMilliseconds);
            }

            await Task.Delay(delay, stopping).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }
    }

    private async Task HandleSignalsAsync(RelayControlClient control, CancellationToken stopping)
    {
        try
        {
            await foreach (var signal in control.Signals.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                PeerSignal message;
                try
                {
                    message = PeerSignal.Parser.ParseFrom(signal.Payload.Span);
                }
                catch (InvalidProtocolBufferException)
                {
                    LogBadSignal(_logger, signal.From);
                    continue;
                }

                switch (message.BodyCase)
                {
                    case PeerSignal.BodyOneofCase.DialRequest:
                        await AnswerDialAsync(control, signal.From, message.DialRequest, stopping).ConfigureAwait(false);
                        break;
                    case PeerSignal.BodyOneofCase.DialAnswer when _dials.TryGetValue(message.DialAnswer.DialId, out var pending) && pending.Peer == signal.From:
                        pending.Answer.TrySetResult(message.DialAnswer);
                        break;
                    case PeerSignal.BodyOneofCase.DialRefused when _dials.TryGetValue(message.DialRefused.DialId, out var refused) && refused.Peer == signal.From && message.DialRefused.Crossed:
                        _crossed.Mark(refused);
                        refused.Answer.TrySetCanceled(); // wakes the dial, which then waits for the peer's connection
                        break;
                    case PeerSignal.BodyOneofCase.DialRefused when _dials.TryGetValue(message.DialRefused.DialId, out var refused) && refused.Peer == signal.From:
                        refused.Answer.TrySetException(new PeerException(PeerFailure.PeerRefused, $"{signal.From} refused the connection: {message.DialRefused.Reason}"));
                        break;
                    case PeerSignal.BodyOneofCase.PunchRequest:
                        await _direct.AnswerPunchAsync(control, signal.From, message.PunchRequest, stopping).ConfigureAwait(false);
                        break;
                    case PeerSignal.BodyOneofCase.PunchAnswer:
                        _direct.TakePunchAnswer(signal.From, message.PunchAnswer);
                        break;
                    default:
                        LogBadSignal(_logger, signal.From);
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AnswerDialAsync(RelayControlClient control, NodeId dialer, DialRequest request, CancellationToken stopping)
    {
        var dialId = request.DialId;
        PeerSignal answer;
        if (_crossed.OursWins(dialer, request))
        {
            answer = new PeerSignal { DialRefused = new DialRefused { DialId = dialId, Crossed = true, Reason = "crossed dials: this node is dialing you and its connection is the one kept" } };
        }
        else if (Allows(dialer))
        {
            // A CID of our derived set: the relay already routes it to us, and it pins the connection to the dialer.
            var cid = _issuer.Next();
            _incoming.Add(cid, dialer, IncomingDialLifetime);
            var dialAnswer = new DialAnswer { DialId = dialId, InitialDcid = ByteString.CopyFrom(cid.Span) };
            dialAnswer.Candidates.AddRange(_direct.Accept(dialer, request));
            answer = new PeerSignal { DialAnswer = dialAnswer };
            LogDialAnswered(_logger, dialer);
        }
        else
        {
            answer = new PeerSignal { DialRefused = new DialRefused { DialId = dialId, Reason = "this node is not in the peer's --allow list" } };
            LogDialRefused(_logger, dialer);
        }

        try
        {
            await control.SignalAsync(dialer, answer.ToByteArray(), stopping).ConfigureAwait(false);
        }
        catch (RelayControlException e)
        {
            LogAnswerFailed(_logger, dialer, e.Message);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Trusting relay {Relay} with NodeId {RelayId} on first use; pin it with --relay-id {RelayId}")]
    private static partial void LogTrustOnFirstUse(ILogger logger, IPEndPoint relay, NodeId relayId);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Registered with relay {Relay}: public address {Public}, {Cids} CIDs routed")]
    private static partial void LogRegistered(ILogger logger, IPEndPoint relay, IPEndPoint @public, int cids);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Public address changed from {Previous} to {Current}")]
    private static partial void LogPublicAddressChanged(ILogger logger, IPEndPoint previous, IPEndPoint current);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Lost relay {Relay} ({Reason}); reconnecting")]
    private static partial void LogRelayLost(ILogger logger, IPEndPoint relay, string? reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Relay not back yet ({Reason}); next try in {DelayMs} ms")]
    private static partial void LogReconnectFailed(ILogger logger, string reason, double delayMs);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Ignored a malformed signal from {From}")]
    private static partial void LogBadSignal(ILogger logger, NodeId from);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Dial request from {Dialer}: answered")]
    private static partial void LogDialAnswered(ILogger logger, NodeId dialer);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Dial request from {Dialer}: refused (not allowed)")]
    private static partial void LogDialRefused(ILogger logger, NodeId dialer);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Could not answer {Dialer}: {Reason}")]
    private static partial void LogAnswerFailed(ILogger logger, NodeId dialer, string reason);
}
