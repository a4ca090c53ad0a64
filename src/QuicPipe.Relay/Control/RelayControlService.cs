using System.Collections.Concurrent;
using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Protocol;
using QuicPipe.Protocol.Relay;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>
/// The relay's control service (docs/relay-control.md): on each accepted connection it reads
/// <see cref="ClientMessage"/>s from the first bidirectional stream and answers <see cref="ServerMessage"/>s:
/// CID registrations (through the <see cref="CidRegistry"/>, routed to the address the connection comes from),
/// reflexive address (Ping) and signals between connected peers.
/// </summary>
/// <remarks>
/// A client must present a certificate: its NodeId owns its CIDs; one without is closed with
/// <see cref="RelayProtocol.CloseNoCertificate"/>. One control connection per NodeId: a newer one takes over
/// (it becomes the target of signals) and the older one is closed with <see cref="RelayProtocol.CloseReplaced"/>;
/// the registry keeps the identity's routes through the switch. Malformed messages are answered BAD_REQUEST;
/// after <see cref="RelayControlOptions.MaxProtocolErrors"/> of them, or any framing error, the connection is
/// closed with <see cref="RelayProtocol.CloseProtocolError"/>. Nothing a client sends ends the service.
/// </remarks>
public sealed partial class RelayControlService
{
    /// <summary>How long the end of a session waits for its queued answers to be written before it closes.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(1);

    private readonly CidRegistry _registry;
    private readonly RelayControlOptions _options;
    private readonly ILogger _logger;
    private readonly RegistryMaintenance _maintenance;
    private readonly ConcurrentDictionary<NodeId, ControlSession> _sessions = new();
    private long _nextSessionId;
    private long _connectionsAccepted;
    private long _refusedWithoutCertificate;
    private long _registrations;
    private long _registrationsRefused;
    private long _refreshes;
    private long _signalsDelivered;
    private long _signalsUnknownNode;
    private long _signalsRateLimited;
    private long _protocolErrors;
    private long _refusedNotAllowed;
    private long _refusedPerSource;

    // The NodeIds that may use the service (relay --peers), or null for any.
    private readonly PeerAllowList? _allowList;

    // Control connections by source address and /24 or /64, under its own lock (connections start on many threads).
    private readonly SourceAddressLimiter _connectionsBySource;
    private readonly Lock _connectionsBySourceLock = new();

    /// <param name="registry">Where registrations go.</param>
    /// <param name="options">Limits and timers.</param>
    /// <param name="logger">Where refusals and failures are told; null for nowhere.</param>
    /// <param name="allowList">The NodeIds allowed to use the service; null for any.</param>
    public RelayControlService(CidRegistry registry, RelayControlOptions options, ILogger? logger, PeerAllowList? allowList = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _registry = registry;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _allowList = allowList;
        _connectionsBySource = new SourceAddressLimiter(options.MaxConnectionsPerAddress, options.MaxConnectionsPerPrefix);
        _maintenance = new RegistryMaintenance(registry, options);
    }

    /// <summary>The relay's fleet (relay --directory): signals for NodeIds not connected here go through it; null for a lone relay.</summary>
    internal Fleet.Internal.FleetMembership? Fleet { get; set; }

    /// <summary>Maintenance passes run since the service was made (each: window moves, and a sweep when due).</summary>
    internal long MaintenancePasses => _maintenance.Passes;

    /// <summary>The most maintenance loops that ever ran at once: 1 once the service has run.</summary>
    internal int MaxConcurrentMaintenanceLoops => _maintenance.MaxConcurrentLoops;

    /// <summary>
    /// Serves control connections accepted on <paramref name="endpoint"/> (bound by the caller with
    /// <c>ServerAlpn = RelayProtocol.Alpn</c> and <c>AllowAnyClient = true</c>) until
    /// <paramref name="cancellationToken"/> is cancelled; then closes every control connection and returns. The
    /// registry's maintenance runs meanwhile. A relay on a server builder does not call this: its listener's QUIC
    /// endpoint hands connections to <see cref="OnConnectedAsync"/>, and the relay runs the maintenance.
    /// </summary>
    public async Task RunAsync(QuicEndpoint endpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        StartMaintenance();
        try
        {
            await QuicConnectionDispatcher.RunAsync(endpoint, OnConnectedAsync, cancellationToken, _logger).ConfigureAwait(false);
        }
        finally
        {
            await StopMaintenanceAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts the registry's maintenance unless it runs already: one loop however many endpoints the service runs on.
    /// Each call needs its <see cref="StopMaintenanceAsync"/>.
    /// </summary>
    internal void StartMaintenance() => _maintenance.Start();

    /// <summary>Stops the registry's maintenance when this is the last start's stop, and waits for its pass to end.</summary>
    internal Task StopMaintenanceAsync() => _maintenance.StopAsync();

    /// <summary>
    /// The connection handler: serves one control connection, start to end. When the server asks the connection to
    /// close (<see cref="IConnectionLifetimeNotificationFeature"/>), the session ends and the client is told the relay
    /// is shutting down.
    /// </summary>
    public Task OnConnectedAsync(MultiplexedConnectionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var connection = context.Features.Get<IQuicConnectionFeature>()?.Connection
            ?? throw new InvalidOperationException("The relay control service serves QUIC connections only (no IQuicConnectionFeature).");
        var stopping = context.CloseRequested();
        Interlocked.Increment(ref _connectionsAccepted);
        return ServeAsync(connection, stopping);
    }

    public RelayControlStats Snapshot() => new()
    {
        Sessions = _sessions.Count,
        ConnectionsAccepted = Interlocked.Read(ref _connectionsAccepted),
        RefusedWithoutCertificate = Interlocked.Read(ref _refusedWithoutCertificate),
        Registrations = Interlocked.Read(ref _registrations),
        RegistrationsRefused = Interlocked.Read(ref _registrationsRefused),
        Refreshes = Interlocked.Read(ref _refreshes),
        SignalsDelivered = Interlocked.Read(ref _signalsDelivered),
        SignalsUnknownNode = Interlocked.Read(ref _signalsUnknownNode),
        SignalsRateLimited = Interlocked.Read(ref _signalsRateLimited),
        ProtocolErrors = Interlocked.Read(ref _protocolErrors),
        RefusedNotAllowed = Interlocked.Read(ref _refusedNotAllowed),
        RefusedPerSource = Interlocked.Read(ref _refusedPerSource),
        Registry = _registry.Snapshot(),
    };

    /// <summary>One connection, start to end. Catches everything: a client can end its own connection, never the service.</summary>
    private async Task ServeAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var source = PeerAddress.FromEndPoint(connection.RemoteEndPoint);
        if (!TryAcquireSource(source, out var refusal))
        {
            Interlocked.Increment(ref _refusedPerSource);
            LogSourceQuota(_logger, connection.RemoteEndPoint, refusal);
            await CloseQuietlyAsync(connection, RelayProtocol.CloseSourceQuota, "quicpipe relay: " + refusal).ConfigureAwait(false);
            return;
        }

        try
        {
            if (connection.RemoteNodeId is not { } node)
            {
                Interlocked.Increment(ref _refusedWithoutCertificate);
                LogNoCertificate(_logger, connection.RemoteEndPoint);
                await connection.CloseAsync(RelayProtocol.CloseNoCertificate, "quicpipe relay: a client certificate is required (its NodeId owns the registered CIDs)", CancellationToken.None).ConfigureAwait(false);
                return;
            }

            QuicStream stream;
            using (var firstStream = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                firstStream.CancelAfter(_options.FirstStreamTimeout);
                try
                {
                    stream = await connection.AcceptStreamAsync(firstStream.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await connection.CloseAsync(RelayProtocol.CloseProtocolError, "quicpipe relay: no control stream opened in time", CancellationToken.None).ConfigureAwait(false);
                    return;
                }
            }

            await ServeSessionAsync(connection, node, stream, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or QuicStreamAbortedException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            LogConnectionEnded(_logger, connection.RemoteEndPoint, e.Message);
        }
#pragma warning disable CA1031 // The service outlives any one connection's failure, whatever it is.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogConnectionFailed(_logger, connection.RemoteEndPoint, e);
            await CloseQuietlyAsync(connection, RelayProtocol.CloseProtocolError, "quicpipe relay: internal error").ConfigureAwait(false);
        }
        finally
        {
            lock (_connectionsBySourceLock)
            {
                _connectionsBySource.Release(source);
            }
        }
    }

    /// <summary>Counts the connection against its source address and /24 or /64; false (and why) when either is full.</summary>
    private bool TryAcquireSource(PeerAddress source, out string refusal)
    {
        SourceLimitResult result;
        lock (_connectionsBySourceLock)
        {
            result = _connectionsBySource.TryAcquire(source);
        }

        var address = source.ToEndPoint().Address;
        refusal = result switch
        {
            SourceLimitResult.AddressFull => $"too many control connections from {address} (at most {_options.MaxConnectionsPerAddress} from one address)",
            SourceLimitResult.PrefixFull => $"too many control connections from {address}'s network (at most {_options.MaxConnectionsPerPrefix} from one /24 or /64)",
            _ => string.Empty,
        };
        return result == SourceLimitResult.Acquired;
    }

    /// <summary>
    /// After the allow-list was reloaded: peers no longer on it lose their routes at once (not at their next refresh)
    /// and their control connection is closed with <see cref="RelayProtocol.CloseNotAllowed"/>.
    /// </summary>
    public void RevokeDisallowed()
    {
        if (_allowList is not { } list)
        {
            return;
        }

        foreach (var (node, session) in _sessions)
        {
            if (!list.Allows(node))
            {
                _ = CloseQuietlyAsync(session.Connection, RelayProtocol.CloseNotAllowed, NotAllowedMessage(node));
            }
        }

        _registry.UnregisterWhere(node => !list.Allows(node));
    }

    private static string NotAllowedMessage(NodeId node) => $"quicpipe relay: NodeId {node} is not in the relay's allow-list";

    private async Task ServeSessionAsync(QuicConnection connection, NodeId node, QuicStream stream, CancellationToken cancellationToken)
    {
        var session = new ControlSession(Interlocked.Increment(ref _nextSessionId), connection, node, _options);
        var context = stream.AsConnectionContext();
        var transport = context.Transport;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writer = session.RunWriterAsync(transport.Output, stop.Token);

        // A NodeId off the allow-list is told why in answer to its first request, then closed: it never becomes
        // its NodeId's session, so it cannot take over one that is.
        var allowed = _allowList?.Allows(node) ?? true;
        if (allowed)
        {
            TakeOver(session);
        }

        LogSessionStarted(_logger, node, connection.RemoteEndPoint);
        var (code, reason) = (RelayProtocol.CloseShuttingDown, "quicpipe relay: shutting down");
        try
        {
            (code, reason) = allowed
                ? await ReadLoopAsync(session, transport.Input, stop.Token).ConfigureAwait(false)
                : await RefuseAsync(session, transport.Input, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: close with the code set above.
        }
        finally
        {
            _sessions.TryRemove(new KeyValuePair<NodeId, ControlSession>(node, session));
            _registry.Disconnected(node, session.Id);

            // Let queued answers (say, the last BAD_REQUEST) go out and the stream end, but never wait on a peer
            // that stopped reading for longer than DrainTimeout: the close below ends whatever is still pending.
            session.CompleteOutbound();
            await IgnoreFailureAsync(writer.WaitAsync(DrainTimeout, CancellationToken.None)).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            var disposing = context.DisposeAsync().AsTask();
            await IgnoreFailureAsync(disposing.WaitAsync(DrainTimeout, CancellationToken.None)).ConfigureAwait(false);
            await CloseQuietlyAsync(connection, code, reason).ConfigureAwait(false);
            await IgnoreFailureAsync(Task.WhenAll(writer, disposing)).ConfigureAwait(false);
            LogSessionEnded(_logger, node, reason);
        }
    }

    /// <summary>Makes <paramref name="session"/> its NodeId's control connection; the one it replaces is closed.</summary>
    private void TakeOver(ControlSession session)
    {
        while (true)
        {
            if (_sessions.TryGetValue(session.Node, out var previous))
            {
                if (_sessions.TryUpdate(session.Node, session, previous))
                {
                    // The phrase names where the newer one comes from: if it is another process with the same key, the
                    // replaced one can tell its user where that process runs rather than take the routes back.
                    _ = CloseQuietlyAsync(previous.Connection, RelayProtocol.CloseReplaced, ReplacedCloseReason.Format(session.Connection.RemoteEndPoint));
                    return;
                }
            }
            else if (_sessions.TryAdd(session.Node, session))
            {
                return;
            }
        }
    }

    /// <summary>Answers the first request of a NodeId off the allow-list with NOT_ALLOWED; returns how to close.</summary>
    private async Task<(long Code, string Reason)> RefuseAsync(ControlSession session, PipeReader input, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _refusedNotAllowed);
        LogNotAllowed(_logger, session.Node, session.Connection.RemoteEndPoint);
        var reason = NotAllowedMessage(session.Node);
        try
        {
            if (await ControlFraming.ReadAsync(input, ClientMessage.Parser, cancellationToken).ConfigureAwait(false) is { } message)
            {
                await session.SendAsync(Error(message.RequestId, ErrorCode.NotAllowed, $"NodeId {session.Node} is not in the relay's allow-list (relay --peers); ask the relay's operator to add it"), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ControlProtocolException)
        {
            // Malformed or not: it is refused all the same.
        }

        return (RelayProtocol.CloseNotAllowed, reason);
    }

    /// <summary>Reads and answers until the client ends its stream or breaks the protocol; returns how to close.</summary>
    private async Task<(long Code, string Reason)> ReadLoopAsync(ControlSession session, PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ClientMessage? message;
            try
            {
                message = await ControlFraming.ReadAsync(input, ClientMessage.Parser, cancellationToken).ConfigureAwait(false);
            }
            catch (ControlProtocolException e) when (e.IsRecoverable)
            {
                if (await ProtocolErrorAsync(session, 0, e.Message, cancellationToken).ConfigureAwait(false))
                {
                    return (RelayProtocol.CloseProtocolError, "quicpipe relay: too many malformed messages");
                }

                continue;
            }
            catch (ControlProtocolException e)
            {
                Interlocked.Increment(ref _protocolErrors);
                LogProtocolError(_logger, session.Node, e.Message);
                return (RelayProtocol.CloseProtocolError, Truncate("quicpipe relay: " + e.Message));
            }

            if (message is null)
            {
                return (RelayProtocol.CloseNormal, "quicpipe relay: control stream ended");
            }

            if (Handle(session, message) is not { } answer)
            {
                // Answered later (a signal on its way to another relay of the fleet).
                continue;
            }

            if (answer.Error is { Code: ErrorCode.BadRequest } error)
            {
                if (await ProtocolErrorAsync(session, message.RequestId, error.Message, cancellationToken).ConfigureAwait(false))
                {
                    return (RelayProtocol.CloseProtocolError, "quicpipe relay: too many malformed messages");
                }

                continue;
            }

            await session.SendAsync(answer, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Answers BAD_REQUEST and counts it; true when the connection has now had too many.</summary>
    private async Task<bool> ProtocolErrorAsync(ControlSession session, ulong requestId, string message, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _protocolErrors);
        session.ProtocolErrors++;
        LogProtocolError(_logger, session.Node, message);
        await session.SendAsync(Error(requestId, ErrorCode.BadRequest, message), cancellationToken).ConfigureAwait(false);
        return session.ProtocolErrors >= _options.MaxProtocolErrors;
    }

    /// <summary>The answer to <paramref name="message"/>, or null when it is sent later by the task that makes it.</summary>
    private ServerMessage? Handle(ControlSession session, ClientMessage message)
    {
        if (message.RequestId == 0)
        {
            return Error(0, ErrorCode.BadRequest, "request_id 0 is reserved for unsolicited messages; number requests from 1");
        }

        return message.BodyCase switch
        {
            ClientMessage.BodyOneofCase.Register => Register(session, message.RequestId, message.Register),
            ClientMessage.BodyOneofCase.Refresh => Refresh(session, message.RequestId),
            ClientMessage.BodyOneofCase.Unregister => Unregister(session, message.RequestId, message.Unregister),
            ClientMessage.BodyOneofCase.Signal => Signal(session, message.RequestId, message.Signal),
            ClientMessage.BodyOneofCase.Ping => new ServerMessage { RequestId = message.RequestId, Pong = new Pong { ObservedAddress = session.Connection.RemoteEndPoint.ToString() } },
            _ => Error(message.RequestId, ErrorCode.BadRequest, "a ClientMessage without a known body"),
        };
    }

    private ServerMessage Register(ControlSession session, ulong requestId, Protocol.Relay.Register register)
    {
        var cids = new ConnectionId[register.Cids.Count];
        for (var i = 0; i < cids.Length; i++)
        {
            if (register.Cids[i].Length > ConnectionId.MaxLength)
            {
                return Error(requestId, ErrorCode.BadRequest, $"a CID of {register.Cids[i].Length} bytes; at most {ConnectionId.MaxLength}");
            }

            cids[i] = new ConnectionId(register.Cids[i].Span);
        }

        if (register.Window > int.MaxValue)
        {
            return Error(requestId, ErrorCode.BadRequest, $"window {register.Window} is too large");
        }

        var request = new CidRegistrationRequest(register.CidKey.Memory, register.FirstCounter, (int)register.Window, cids, TimeSpan.FromSeconds(register.LifetimeSeconds));
        var observed = session.Connection.RemoteEndPoint;
        var result = _registry.Register(session.Node, session.Id, PeerAddress.FromEndPoint(observed), request);
        if (!result.IsOk)
        {
            Interlocked.Increment(ref _registrationsRefused);
            LogRegistrationRefused(_logger, session.Node, result.Status, result.Message);
            return Error(requestId, ToErrorCode(result.Status), result.Message ?? result.Status.ToString());
        }

        Interlocked.Increment(ref _registrations);
        return Registered(requestId, observed.ToString(), result);
    }

    private ServerMessage Refresh(ControlSession session, ulong requestId)
    {
        var observed = session.Connection.RemoteEndPoint;
        var result = _registry.Refresh(session.Node, session.Id, PeerAddress.FromEndPoint(observed));
        if (!result.IsOk)
        {
            return Error(requestId, ToErrorCode(result.Status), result.Message ?? result.Status.ToString());
        }

        Interlocked.Increment(ref _refreshes);
        return Registered(requestId, observed.ToString(), result);
    }

    private ServerMessage Unregister(ControlSession session, ulong requestId, Protocol.Relay.Unregister unregister)
    {
        var cids = new List<ConnectionId>(unregister.Cids.Count);
        foreach (var cid in unregister.Cids)
        {
            if (cid.Length <= ConnectionId.MaxLength)
            {
                cids.Add(new ConnectionId(cid.Span));
            }
        }

        _registry.Unregister(session.Node, cids, unregister.All);
        return new ServerMessage { RequestId = requestId, Ack = new Ack() };
    }

    private ServerMessage? Signal(ControlSession session, ulong requestId, Protocol.Relay.Signal signal)
    {
        if (signal.To.Length != RelayProtocol.NodeIdLength)
        {
            return Error(requestId, ErrorCode.BadRequest, $"Signal.to has {signal.To.Length} bytes; a NodeId has {RelayProtocol.NodeIdLength}");
        }

        if (signal.Payload.Length > RelayProtocol.MaxSignalPayload)
        {
            return Error(requestId, ErrorCode.BadRequest, $"a signal payload of {signal.Payload.Length} bytes; at most {RelayProtocol.MaxSignalPayload}");
        }

        if (!session.Signals.TryTake())
        {
            Interlocked.Increment(ref _signalsRateLimited);
            return Error(requestId, ErrorCode.RateLimited, $"at most {_options.SignalsPerSecond} signals a second (burst {_options.SignalBurst})");
        }

        var to = new NodeId(signal.To.Span);
        if (!_sessions.ContainsKey(to) && Fleet is { } fleet)
        {
            _ = ForwardThroughFleetAsync(fleet, session, requestId, to, signal.Payload);
            return null;
        }

        return DeliverLocal(session.Node, to, signal.Payload) is { } refused
            ? Error(requestId, refused.Code, refused.Message)
            : new ServerMessage { RequestId = requestId, Ack = new Ack() };
    }

    /// <summary>Delivers a signal to <paramref name="to"/>'s control connection here: null once queued, else why not (counted).</summary>
    internal (ErrorCode Code, string Message)? DeliverLocal(NodeId from, NodeId to, ByteString payload)
    {
        if (!_sessions.TryGetValue(to, out var target))
        {
            Interlocked.Increment(ref _signalsUnknownNode);
            return (ErrorCode.UnknownNode, $"{to} has no control connection to this relay");
        }

        var delivery = new ServerMessage
        {
            Signal = new SignalDelivery { From = ByteString.CopyFrom(from.Bytes), Payload = payload },
        };
        if (!target.TryDeliver(delivery))
        {
            Interlocked.Increment(ref _signalsRateLimited);
            return (ErrorCode.RateLimited, $"{to} is not reading its signals (its queue is full)");
        }

        Interlocked.Increment(ref _signalsDelivered);
        return null;
    }

    /// <summary>
    /// A signal for a NodeId registered at another relay of the fleet: carried through the directory, answered when
    /// that relay answers (the read loop goes on meanwhile; the signal rate limit bounds how many are under way).
    /// </summary>
    private async Task ForwardThroughFleetAsync(Fleet.Internal.FleetMembership fleet, ControlSession session, ulong requestId, NodeId to, ByteString payload)
    {
        try
        {
            var refused = await fleet.ForwardAsync(session.Node, to, payload, CancellationToken.None).ConfigureAwait(false);
            if (refused is { } why)
            {
                Interlocked.Increment(ref _signalsUnknownNode);
                LogFleetSignalRefused(_logger, session.Node, to, why.Message);
            }
            else
            {
                Interlocked.Increment(ref _signalsDelivered);
            }

            session.TryDeliver(refused is { } error
                ? Error(requestId, error.Code, error.Message)
                : new ServerMessage { RequestId = requestId, Ack = new Ack() });
        }
#pragma warning disable CA1031 // A failure here ends this one signal (the peer's request times out), never the session.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogConnectionFailed(_logger, session.Connection.RemoteEndPoint, e);
        }
    }

    private static ServerMessage Registered(ulong requestId, string observed, RegistryResult result) => new()
    {
        RequestId = requestId,
        Registered = new Registered
        {
            ObservedAddress = observed,
            ExpiresUnixMs = (ulong)(DateTimeOffset.UtcNow + result.ExpiresIn).ToUnixTimeMilliseconds(),
            CidCount = (uint)result.CidCount,
        },
    };

    private static ServerMessage Error(ulong requestId, ErrorCode code, string message) =>
        new() { RequestId = requestId, Error = new Error { Code = code, Message = message } };

    private static ErrorCode ToErrorCode(RegistryStatus status) => status switch
    {
        RegistryStatus.BadRequest => ErrorCode.BadRequest,
        RegistryStatus.CidOwnedByOther => ErrorCode.CidOwnedByOther,
        RegistryStatus.QuotaExceeded => ErrorCode.QuotaExceeded,
        RegistryStatus.NotRegistered => ErrorCode.NotRegistered,
        _ => ErrorCode.Unspecified,
    };

    /// <summary>Close reasons travel in CONNECTION_CLOSE, which takes at most 256 bytes.</summary>
    private static string Truncate(string reason) => reason.Length <= 200 ? reason : reason[..200];

    private static async Task CloseQuietlyAsync(QuicConnection connection, long code, string reason)
    {
        await IgnoreFailureAsync(connection.CloseAsync(code, Truncate(reason), CancellationToken.None)).ConfigureAwait(false);
    }

    private static async Task IgnoreFailureAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Clean-up of a connection that is already failing: its error was reported where it happened.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Control connection from {Remote} refused: no client certificate")]
    private static partial void LogNoCertificate(ILogger logger, System.Net.IPEndPoint remote);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "Control connection of {Node} from {Remote} started")]
    private static partial void LogSessionStarted(ILogger logger, NodeId node, System.Net.IPEndPoint remote);

    [LoggerMessage(EventId = 203, Level = LogLevel.Debug, Message = "Control connection of {Node} ended: {Reason}")]
    private static partial void LogSessionEnded(ILogger logger, NodeId node, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Control protocol error from {Node}: {Reason}")]
    private static partial void LogProtocolError(ILogger logger, NodeId node, string reason);

    [LoggerMessage(EventId = 205, Level = LogLevel.Debug, Message = "Registration of {Node} refused ({Status}): {Reason}")]
    private static partial void LogRegistrationRefused(ILogger logger, NodeId node, RegistryStatus status, string? reason);

    [LoggerMessage(EventId = 206, Level = LogLevel.Debug, Message = "Control connection from {Remote} ended: {Reason}")]
    private static partial void LogConnectionEnded(ILogger logger, System.Net.IPEndPoint remote, string reason);

    [LoggerMessage(EventId = 207, Level = LogLevel.Error, Message = "Control connection from {Remote} failed")]
    private static partial void LogConnectionFailed(ILogger logger, System.Net.IPEndPoint remote, Exception error);

    [LoggerMessage(EventId = 208, Level = LogLevel.Information, Message = "Control connection of {Node} from {Remote} refused: not in the allow-list")]
    private static partial void LogNotAllowed(ILogger logger, NodeId node, System.Net.IPEndPoint remote);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Signal from {From} to {To} through the fleet refused: {Reason}")]
    private static partial void LogFleetSignalRefused(ILogger logger, NodeId from, NodeId to, string reason);

    [LoggerMessage(EventId = 209, Level = LogLevel.Debug, Message = "Control connection from {Remote} refused: {Reason}")]
    private static partial void LogSourceQuota(ILogger logger, System.Net.IPEndPoint remote, string reason);
}
