using System.Diagnostics;
using System.Net;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using QuicPipe.Protocol;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Internal;

/// <summary>
/// A peer endpoint's session with one of its relays: connects through the endpoint's QUIC endpoint, registers our CID key
/// (so registration traffic also opens our NAT toward the relay), keeps the registration fresh, checks the relay's
/// liveness at an interval or when asked, and when the relay is lost reconnects with backoff and registers again. It
/// reads the signals peers send us through the relay: sends the endpoint's answer to each dial request, and hands
/// every other signal to the endpoint. It stops for good when another process with our NodeId takes the relay over.
/// </summary>
internal sealed partial class RelaySession : IAsyncDisposable
{
    // The relay keeps at most this many derived CIDs per registration (its RegistryOptions default).
    private const int MaxRegisteredWindow = 256;

    // A reconnect attempt's first limit, doubled per failed attempt up to the dial timeout. A handshake to a relay
    // that is down is retried by QUIC with backoff (1 s, 2 s, 4 s...): a fresh attempt every few seconds reaches a
    // restarted relay within about a second of it being back, instead of at the next backed-off retransmission.
    private static readonly TimeSpan FirstReconnectLimit = TimeSpan.FromSeconds(2);

    // How long a clean stop waits for the relay to acknowledge the unregistration before closing anyway.
    private static readonly TimeSpan UnregisterWait = TimeSpan.FromSeconds(1);

    private readonly PeerEndpointOptions _options;
    private readonly PeerRelay _relay;
    private readonly CidIssuer _issuer;
    private readonly Action<PeerRegisteredEventArgs> _registered;
    private readonly Action<PeerException> _failed;
    private readonly Action<RelaySession> _lost;
    private readonly Func<NodeId, DialRequest, PeerSignal> _answerDial;
    private readonly Func<RelayControlClient, NodeId, PeerSignal, CancellationToken, Task<bool>> _takeSignal;
    private readonly Func<bool> _busy;
    private readonly CancellationToken _stopping;
    private readonly ILogger _logger;

    // Completed to run the liveness check (ping, re-register on a new address) now instead of at the next interval.
    private TaskCompletionSource _checkNow = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed when the next liveness check to start has ended (either way): what CheckNowAsync waits for.
    private TaskCompletionSource _nextCheckDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // A signal for the relay's answer alone (Ack: it knows the peer, UNKNOWN_NODE: it does not); the peer ignores it.
    private static readonly byte[] PresenceSignal = new PeerSignal { Presence = new Presence() }.ToByteArray();

    // Set to register again at the next liveness check, which runs at once (RefreshNowAsync).
    private volatile bool _refreshNow;

    private NodeId? _relayId;
    private Task _maintenance = Task.CompletedTask;

    /// <param name="options">The endpoint's options.</param>
    /// <param name="relay">The relay this session is with.</param>
    /// <param name="issuer">The endpoint's CID issuer, whose key and window we register.</param>
    /// <param name="registered">Called after each successful registration (the first, and every re-registration).</param>
    /// <param name="failed">Called once when the session stops for good: another process with our NodeId took over.</param>
    /// <param name="lost">Called each time the session finds the relay lost, before it reconnects.</param>
    /// <param name="answerDial">The answer (a DialAnswer or a DialRefused) to a peer's dial request, which we send.</param>
    /// <param name="takeSignal">
    /// Takes any other signal, with the control connection it arrived on; false if it concerns nothing of ours.
    /// </param>
    /// <param name="busy">True while connections run through the relay: it is then pinged more often.</param>
    /// <param name="stopping">Fires when the endpoint stops: the session's upkeep ends.</param>
    /// <param name="logger">The endpoint's logger.</param>
    public RelaySession(
        PeerEndpointOptions options,
        PeerRelay relay,
        CidIssuer issuer,
        Action<PeerRegisteredEventArgs> registered,
        Action<PeerException> failed,
        Action<RelaySession> lost,
        Func<NodeId, DialRequest, PeerSignal> answerDial,
        Func<RelayControlClient, NodeId, PeerSignal, CancellationToken, Task<bool>> takeSignal,
        Func<bool> busy,
        CancellationToken stopping,
        ILogger logger)
    {
        _options = options;
        _relay = relay;
        _issuer = issuer;
        _registered = registered;
        _failed = failed;
        _lost = lost;
        _answerDial = answerDial;
        _takeSignal = takeSignal;
        _busy = busy;
        _stopping = stopping;
        _logger = logger;
        _relayId = relay.Id;
    }

    /// <summary>The relay's address.</summary>
    public IPEndPoint EndPoint => _relay.EndPoint;

    /// <summary>The current control connection to the relay; null before start and while the relay is reconnected.</summary>
    public RelayControlClient? Control { get; private set; }

    /// <summary>The relay's NodeId (pinned, or trusted on first use).</summary>
    public NodeId? RelayId => _relayId;

    /// <summary>Our address as the relay last saw it (our NAT's public mapping).</summary>
    public IPEndPoint? PublicEndPoint { get; private set; }

    /// <summary>Times we registered with the relay (1 after start; more after reconnects).</summary>
    public int Registrations { get; private set; }

    /// <summary>The session as <see cref="PeerEndpoint.Relays"/> shows it.</summary>
    public PeerRelayStatus Status => new(EndPoint, _relayId, Control is not null, PublicEndPoint, Registrations);

    private NodeId NodeId => _options.Identity!.NodeId;

    /// <summary>
    /// Connects to the relay through <paramref name="quic"/> and registers, then keeps the session up in the
    /// background until <c>stopping</c> fires. Throws <see cref="PeerException"/> when the relay is unreachable, is
    /// not the pinned one, or refuses the registration.
    /// </summary>
    public async Task StartAsync(QuicEndpoint quic, CancellationToken cancellationToken)
    {
        await ConnectAsync(quic, _options.DialTimeout, cancellationToken).ConfigureAwait(false);
        _maintenance = MaintainAsync(quic);
    }

    /// <summary>
    /// For a relay that could not be reached at start while another could: keeps trying to connect and register in
    /// the background, as after losing it, until <c>stopping</c> fires.
    /// </summary>
    public void StartInBackground(QuicEndpoint quic) => _maintenance = MaintainAsync(quic);

    /// <summary>
    /// Whether the relay knows <paramref name="peer"/> (it is registered there): true or false as the relay answers a
    /// signal that the peer ignores, null when the relay cannot be asked (not connected, no answer, another error).
    /// </summary>
    public async Task<bool?> KnowsAsync(NodeId peer, CancellationToken cancellationToken)
    {
        if (Control is not { } control)
        {
            return null;
        }

        try
        {
            await control.SignalAsync(peer, PresenceSignal, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RelayControlException e) when (e.Code == RelayErrorCode.UnknownNode)
        {
            return false;
        }
        catch (RelayControlException)
        {
            return null;
        }
    }

    /// <summary>
    /// Runs the relay liveness check now; the task completes when a check that started after this call has ended (it
    /// may never, while the relay is being reconnected: callers bound the wait).
    /// </summary>
    public Task CheckNowAsync()
    {
        var done = Volatile.Read(ref _nextCheckDone).Task;
        Volatile.Read(ref _checkNow).TrySetResult();
        return done;
    }

    /// <summary>
    /// Registers again now, as at a refresh: the relay's window of our CIDs moves up to the newest we issued. A relay
    /// that carried none of a connection's traffic has not seen its CIDs in use and slides its window only then; a
    /// connection about to move here needs them routed. Completes as <see cref="CheckNowAsync"/>.
    /// </summary>
    public Task RefreshNowAsync()
    {
        _refreshNow = true;
        return CheckNowAsync();
    }

    /// <summary>Waits for the session's upkeep to end (after <c>stopping</c> fired); the control connection stays open.</summary>
    public async Task StopAsync()
    {
        try
        {
            await _maintenance.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Unregisters and closes the control connection, if any (after <see cref="StopAsync"/>). The relay would keep
    /// our routes for its grace period after a mere close (a peer that reconnects keeps them); a peer that stops has
    /// no use for them, and routes to a port nobody listens on would only be traffic sent into the void.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Control is not { } control)
        {
            return;
        }

        try
        {
            using var limit = new CancellationTokenSource(UnregisterWait);
            await control.UnregisterAllAsync(limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RelayControlException or OperationCanceledException or QuicConnectionException or QuicStreamAbortedException or InvalidOperationException)
        {
            // The relay is gone or slow: it drops the routes after its grace period instead.
            LogUnregisterFailed(_logger, EndPoint, e.Message);
        }

        await control.DisposeAsync().ConfigureAwait(false);
    }

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
            $"Another process with this NodeId ({NodeId}, the same key file) registered at relay {EndPoint} {from}and took over this one's routes. " +
            "Two processes cannot share one key at one relay: give each its own key ('quicpipe keygen --out FILE'). Not reconnecting.");
    }

    private async Task ConnectAsync(QuicEndpoint quic, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var relay = EndPoint;
        RelayControlClient control;
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            while (true)
            {
                try
                {
                    control = await RelayControlClient.ConnectAsync(quic, relay, _relayId, limit.Token).ConfigureAwait(false);
                    break;
                }
                catch (QuicConnectionException e) when (e.IsUnanswered && !limit.IsCancellationRequested)
                {
                    // Nothing came back within a connection's idle timeout (--peer-timeout), which is shorter than
                    // the time a relay that is still starting may take (--timeout): try again until that is up.
                }
            }
        }
        catch (QuicConnectionException e)
        {
            throw new PeerException(PeerFailure.RelayUnreachable, e.IsPinMismatch ? $"Relay {relay} is not the pinned relay: {e.Message}" : $"Cannot connect to relay {relay}: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerException(PeerFailure.RelayUnreachable, $"Relay {relay} did not answer within {timeout.TotalSeconds:0.#} s (is it running, and is UDP to it open?).");
        }
        catch (RelayControlException e)
        {
            // Refused before we could register: not on its allow-list (NOT_ALLOWED), or too many connections from our address.
            throw new PeerException(PeerFailure.RelayRefused, $"Relay {relay} refused the connection: {e.Message}", e);
        }

        if (_relayId is null)
        {
            LogTrustOnFirstUse(_logger, relay, control.RelayNodeId);
            _relayId = control.RelayNodeId;
        }

        try
        {
            await RegisterAsync(control, cancellationToken).ConfigureAwait(false);
            Control = control;
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
        LogRegistered(_logger, EndPoint, registration.ObservedAddress, registration.CidCount);
        if (previous is not null && !previous.Equals(registration.ObservedAddress))
        {
            LogPublicAddressChanged(_logger, previous, registration.ObservedAddress);
        }

        _registered(new PeerRegisteredEventArgs(EndPoint, registration.ObservedAddress, Registrations));
    }

    /// <summary>
    /// Keeps the registration fresh, watches the relay's liveness, and reconnects when it is lost (or connects first,
    /// when started in the background); stops for good (<see cref="PeerEndpoint.Completion"/>) when another process
    /// with our NodeId took the relay over.
    /// </summary>
    private async Task MaintainAsync(QuicEndpoint quic)
    {
        var stopping = _stopping;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                if (Control is not { } control)
                {
                    await ReconnectAsync(quic, stopping).ConfigureAwait(false);
                    continue;
                }

                var signals = HandleSignalsAsync(control, stopping);
                var reason = await WatchAsync(control, stopping).ConfigureAwait(false);
                if (stopping.IsCancellationRequested)
                {
                    break;
                }

                Control = null;
                await control.DisposeAsync().ConfigureAwait(false);
                await signals.ConfigureAwait(false);
                if (WasReplaced(control))
                {
                    _failed(Replaced(control));
                    return;
                }

                LogRelayLost(_logger, EndPoint, reason);
                _lost(this);
            }
        }
        catch (PeerException e) when (e.Failure == PeerFailure.Replaced)
        {
            _failed(e);
        }
    }

    /// <summary>Returns why the control connection is considered lost (or null when stopping).</summary>
    private async Task<string?> WatchAsync(RelayControlClient control, CancellationToken stopping)
    {
        var refreshEvery = _options.RegistrationLifetime / 3;
        var nextRefresh = DateTime.UtcNow + refreshEvery;
        var missed = 0;
        var idle = _options.RelayKeepAliveInterval;
        var wait = _options.RelayPingTimeout < idle ? _options.RelayPingTimeout : idle;
        var busy = _options.RelayBusyKeepAliveInterval < idle ? _options.RelayBusyKeepAliveInterval : idle;
        var lastPing = Stopwatch.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            // Woken at the shorter interval, and pinging at it only while busy: a connection that starts just after a
            // ping is watched closely from then on, not after the idle interval. After a missed answer the next ping
            // goes at once: a relay that restarted is found within two timeouts.
            var tick = missed > 0 ? Task.CompletedTask : Task.Delay(busy, stopping);
            var nowSource = Volatile.Read(ref _checkNow);
            var now = nowSource.Task;
            if (await Task.WhenAny(control.Closed, tick, now).ConfigureAwait(false) == control.Closed)
            {
                return "the control connection closed";
            }

            if (now.IsCompleted)
            {
                Interlocked.CompareExchange(ref _checkNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), nowSource);
            }

            if (stopping.IsCancellationRequested)
            {
                return null;
            }

            if (missed == 0 && !now.IsCompleted && Stopwatch.GetElapsedTime(lastPing) < idle && !_busy())
            {
                continue;
            }

            lastPing = Stopwatch.GetTimestamp();
            var done = Interlocked.Exchange(ref _nextCheckDone, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            limit.CancelAfter(wait);
            try
            {
                var observed = await control.PingAsync(limit.Token).ConfigureAwait(false);
                if (DateTime.UtcNow >= nextRefresh || _refreshNow || !observed.Equals(PublicEndPoint))
                {
                    // Due (registering again refreshes it and slides the CID window to what we issued since), or the
                    // relay sees us from a new address (NAT rebinding): registering again moves our routes there.
                    _refreshNow = false;
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
                    return $"no answer from the relay for {wait.TotalSeconds * missed:0.#} s";
                }
            }
            finally
            {
                done.TrySetResult();
            }
        }

        return null;
    }

    private async Task ReconnectAsync(QuicEndpoint quic, CancellationToken stopping)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        var limit = FirstReconnectLimit < _options.DialTimeout ? FirstReconnectLimit : _options.DialTimeout;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await ConnectAsync(quic, limit, stopping).ConfigureAwait(false);
                return;
            }
            catch (PeerException e) when (e.Failure != PeerFailure.Replaced)
            {
                LogReconnectFailed(_logger, e.Message, delay.TotalMilliseconds);
            }

            await Task.Delay(delay, stopping).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
            limit = TimeSpan.FromTicks(Math.Min(limit.Ticks * 2, _options.DialTimeout.Ticks));
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

                if (message.BodyCase == PeerSignal.BodyOneofCase.DialRequest)
                {
                    await AnswerDialAsync(control, signal.From, message.DialRequest, stopping).ConfigureAwait(false);
                }
                else if (!await _takeSignal(control, signal.From, message, stopping).ConfigureAwait(false))
                {
                    LogBadSignal(_logger, signal.From);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AnswerDialAsync(RelayControlClient control, NodeId dialer, DialRequest request, CancellationToken stopping)
    {
        var answer = _answerDial(dialer, request);
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

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Could not answer {Dialer}: {Reason}")]
    private static partial void LogAnswerFailed(ILogger logger, NodeId dialer, string reason);

    [LoggerMessage(EventId = 35, Level = LogLevel.Debug, Message = "Could not unregister from relay {Relay} ({Reason}); it drops our routes after its grace period")]
    private static partial void LogUnregisterFailed(ILogger logger, IPEndPoint relay, string reason);
}
