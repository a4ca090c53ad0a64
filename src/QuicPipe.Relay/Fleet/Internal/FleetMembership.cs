using Google.Protobuf;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Protocol;
using QuicPipe.Protocol.Fleet;
using QuicPipe.Protocol.Relay;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;

namespace QuicPipe.Relay.Fleet.Internal;

/// <summary>
/// A relay as a member of a fleet (docs/fleet.md): publishes the identities registered here, carries a peer's signal
/// for a NodeId registered at another relay through the directory, and answers the signals other relays send here.
/// Each cross-relay signal also sets up the data path: the receiving relay routes the sender's CIDs to the sending
/// relay, and the answer lets the sending relay route the target's CIDs to the receiving one; so each peer keeps
/// talking to its own relay, and the two relays forward to each other by CID. Those routes live the registry's
/// longest lifetime; while the peer stays registered here, its routes at the other relay are renewed every
/// <c>renewInterval</c> (one message per relay, whatever the number of peers), so long connections keep their path.
/// </summary>
internal sealed partial class FleetMembership : ILocalIdentityObserver, IRelayInbox, IAsyncDisposable
{
    /// <summary>Peers (ours, routed at another relay) whose routes are renewed at most; beyond, they lapse after the lifetime.</summary>
    private const int MaxRenewed = 65_536;

    /// <summary>Peers in one renewal message (keeps it well under etcd's request size limit).</summary>
    private const int PeersPerRenewal = 64;

    private readonly IRelayDirectory _directory;
    private readonly CidRegistry _registry;
    private readonly PeerAddress _address;
    private readonly ILogger _logger;
    private readonly TimeSpan _renewInterval;
    private readonly CancellationTokenSource _stop = new();

    // Our peers whose CIDs another relay routes here, by that relay's id: what each renewal sends. Under its own lock.
    private readonly Dictionary<string, HashSet<NodeId>> _routedAt = [];
    private int _renewedCount;

    // Other relays' peers by the relay their last signal or renewal came through. A peer registered at several relays
    // of the fleet is answered through the relay it used (the directory would give any of them), so that the routes
    // its answer installs here point where its connection's packets go. Under the lock of _routedAt; bounded.
    private readonly Dictionary<NodeId, string> _heardThrough = [];
    private LocalDelivery? _deliver;
    private Task? _renewing;

    public FleetMembership(IRelayDirectory directory, CidRegistry registry, PeerAddress address, ILogger logger, TimeSpan? renewInterval = null)
    {
        _directory = directory;
        _registry = registry;
        _address = address;
        _logger = logger;
        _renewInterval = renewInterval ?? registry.Options.MaxLifetime / 3;
    }

    /// <summary>Delivers a signal to a peer with a control connection to this relay: delivered (null) or why not.</summary>
    public delegate (ErrorCode Code, string Message)? LocalDelivery(NodeId from, NodeId to, ByteString payload);

    public IRelayDirectory Directory => _directory;

    public void OnLocalIdentityAdded(NodeId node) => _directory.Publish(node);

    public void OnLocalIdentityRemoved(NodeId node) => _directory.Withdraw(node);

    /// <summary>Starts the directory, answering other relays' signals through <paramref name="deliver"/>.</summary>
    public void Start(LocalDelivery deliver)
    {
        _deliver = deliver;
        foreach (var node in _registry.LocalIdentities())
        {
            _directory.Publish(node);
        }

        _directory.Start(this);
        _renewing = RenewLoopAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_renewing is { } renewing)
        {
            await renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _directory.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>
    /// Sends each relay that routes some of our peers their current windows: one message per
    /// <see cref="PeersPerRenewal"/> peers; peers no longer registered here are forgotten. Returns the peers renewed.
    /// </summary>
    internal async Task<int> RenewRoutesAsync(CancellationToken cancellationToken)
    {
        List<(string Relay, NodeId[] Nodes)> routed;
        lock (_routedAt)
        {
            routed = _routedAt.Select(r => (r.Key, r.Value.ToArray())).ToList();
        }

        var renewed = 0;
        foreach (var (relay, nodes) in routed)
        {
            var message = new FleetRoutes { FromRelayAddress = _address.ToString() };
            foreach (var node in nodes)
            {
                var registrations = _registry.RegistrationsOf(node);
                if (registrations.Count == 0)
                {
                    Untrack(relay, node);
                    continue;
                }

                var peer = new RoutedPeer { Node = ByteString.CopyFrom(node.Bytes) };
                peer.Windows.AddRange(ToWindows(registrations));
                message.Peers.Add(peer);
                if (message.Peers.Count == PeersPerRenewal)
                {
                    renewed += await PostQuietlyAsync(relay, message, cancellationToken).ConfigureAwait(false);
                    message = new FleetRoutes { FromRelayAddress = _address.ToString() };
                }
            }

            if (message.Peers.Count > 0)
            {
                renewed += await PostQuietlyAsync(relay, message, cancellationToken).ConfigureAwait(false);
            }
        }

        return renewed;
    }

    /// <summary>Relay <paramref name="fromRelay"/> renews its peers' routes here.</summary>
    public void OnRoutes(string fromRelay, FleetRoutes routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        if (!PeerAddress.TryParse(routes.FromRelayAddress, out var relay, out _))
        {
            return;
        }

        foreach (var peer in routes.Peers.Take(PeersPerRenewal))
        {
            if (peer.Node.Length == RelayProtocol.NodeIdLength)
            {
                var node = new NodeId(peer.Node.Span);
                Install(node, relay, peer.Windows);
                HeardOf(node, fromRelay);
            }
        }
    }

    /// <summary>
    /// Carries a signal from <paramref name="from"/> (registered here) to <paramref name="to"/> (not connected here)
    /// through the relay <paramref name="to"/> is registered at: delivered (null) or why not, as for a local signal.
    /// </summary>
    public async Task<(ErrorCode Code, string Message)?> ForwardAsync(NodeId from, NodeId to, ByteString payload, CancellationToken cancellationToken)
    {
        try
        {
            var signal = new FleetSignal
            {
                From = ByteString.CopyFrom(from.Bytes),
                To = ByteString.CopyFrom(to.Bytes),
                Payload = payload,
                FromRelayAddress = _address.ToString(),
            };
            signal.FromWindows.AddRange(ToWindows(_registry.RegistrationsOf(from)));

            if (await SendToTargetsRelayAsync(to, signal, cancellationToken).ConfigureAwait(false) is not var (relay, answer))
            {
                return (ErrorCode.UnknownNode, $"{to} is registered at no relay of the fleet");
            }

            if (answer.Code != ErrorCode.Unspecified)
            {
                return (answer.Code, answer.Message);
            }

            if (!PeerAddress.TryParse(answer.ToRelayAddress, out var toRelay, out _))
            {
                return (ErrorCode.UnknownNode, $"relay {relay} of the fleet answered for {to} without a valid address");
            }

            Install(to, toRelay, answer.ToWindows);
            HeardOf(to, relay);
            Track(relay, from);
            return null;
        }
        catch (RelayDirectoryException e)
        {
            return (ErrorCode.UnknownNode, $"{to} has no control connection to this relay, and the fleet cannot reach it: {e.Message}");
        }
    }

    /// <summary>A signal another relay sent here: routes the sender's CIDs to that relay, delivers, and answers with the target's CIDs.</summary>
    public Task<FleetAnswer> OnSignalAsync(string fromRelay, FleetSignal signal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(signal);
        if (signal.From.Length != RelayProtocol.NodeIdLength || signal.To.Length != RelayProtocol.NodeIdLength ||
            signal.Payload.Length > RelayProtocol.MaxSignalPayload || !PeerAddress.TryParse(signal.FromRelayAddress, out var fromAddress, out _))
        {
            return Task.FromResult(new FleetAnswer { Code = ErrorCode.BadRequest, Message = "a malformed signal between relays" });
        }

        var from = new NodeId(signal.From.Span);
        var to = new NodeId(signal.To.Span);
        if (_deliver is not { } deliver || _registry.RegistrationsOf(to).Count == 0)
        {
            // Not ours (any more): nothing of the sender is routed here for it.
            return Task.FromResult(new FleetAnswer { Code = ErrorCode.UnknownNode, Message = $"{to} is not registered at relay {_directory.RelayId}" });
        }

        // Routed before the target hears of the dial: its first packets back to the sender find their way.
        Install(from, fromAddress, signal.FromWindows);
        HeardOf(from, fromRelay);
        if (deliver(from, to, signal.Payload) is { } refused)
        {
            return Task.FromResult(new FleetAnswer { Code = refused.Code, Message = refused.Message });
        }

        var answer = new FleetAnswer { ToRelayAddress = _address.ToString() };
        answer.ToWindows.AddRange(ToWindows(_registry.RegistrationsOf(to)));
        Track(fromRelay, to);
        return Task.FromResult(answer);
    }

    private async Task RenewLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_renewInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await RenewRoutesAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    private async Task<int> PostQuietlyAsync(string relay, FleetRoutes message, CancellationToken cancellationToken)
    {
        try
        {
            await _directory.PostAsync(relay, message, cancellationToken).ConfigureAwait(false);
            return message.Peers.Count;
        }
        catch (RelayDirectoryException e)
        {
            // Tried again next round: the routes there live three rounds.
            LogRenewFailed(_logger, relay, e.Message);
            return 0;
        }
    }

    /// <summary>Relay <paramref name="relay"/> routes our peer <paramref name="node"/> there from now on: renew it (within the bound).</summary>
    private void Track(string relay, NodeId node)
    {
        lock (_routedAt)
        {
            if (_renewedCount >= MaxRenewed)
            {
                return;
            }

            if (!_routedAt.TryGetValue(relay, out var nodes))
            {
                nodes = [];
                _routedAt.Add(relay, nodes);
            }

            if (nodes.Add(node))
            {
                _renewedCount++;
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the relay <paramref name="to"/> last came through, if any; when that one no
    /// longer has it (or is gone), to wherever the directory says it is now. Null when it is registered nowhere.
    /// </summary>
    private async Task<(string Relay, FleetAnswer Answer)?> SendToTargetsRelayAsync(NodeId to, FleetSignal signal, CancellationToken cancellationToken)
    {
        if (HeardThrough(to) is { } heard)
        {
            if (await TrySendAsync(heard, signal, cancellationToken).ConfigureAwait(false) is { Code: not ErrorCode.UnknownNode } answer)
            {
                return (heard, answer);
            }

            Forget(to, heard);
        }

        var relay = await _directory.LookupAsync(to, cancellationToken).ConfigureAwait(false);
        return relay is null ? null : (relay, await _directory.SendAsync(relay, signal, cancellationToken).ConfigureAwait(false));
    }

    private async Task<FleetAnswer?> TrySendAsync(string relay, FleetSignal signal, CancellationToken cancellationToken)
    {
        try
        {
            return await _directory.SendAsync(relay, signal, cancellationToken).ConfigureAwait(false);
        }
        catch (RelayDirectoryException)
        {
            return null;
        }
    }

    private string? HeardThrough(NodeId node)
    {
        lock (_routedAt)
        {
            return _heardThrough.GetValueOrDefault(node);
        }
    }

    private void HeardOf(NodeId node, string relay)
    {
        lock (_routedAt)
        {
            if (_heardThrough.Count >= MaxRenewed && !_heardThrough.ContainsKey(node))
            {
                // A cache: starting over costs a directory lookup per peer.
                _heardThrough.Clear();
            }

            _heardThrough[node] = relay;
        }
    }

    private void Forget(NodeId node, string relay)
    {
        lock (_routedAt)
        {
            if (_heardThrough.TryGetValue(node, out var known) && known == relay)
            {
                _heardThrough.Remove(node);
            }
        }
    }

    private void Untrack(string relay, NodeId node)
    {
        lock (_routedAt)
        {
            if (_routedAt.TryGetValue(relay, out var nodes) && nodes.Remove(node))
            {
                _renewedCount--;
                if (nodes.Count == 0)
                {
                    _routedAt.Remove(relay);
                }
            }
        }
    }

    /// <summary>Routes <paramref name="node"/>'s CID windows to <paramref name="relay"/>; refusals (it registered here itself, quotas) are logged.</summary>
    private void Install(NodeId node, PeerAddress relay, IEnumerable<CidWindow> windows)
    {
        foreach (var window in windows)
        {
            var cids = new List<ConnectionId>(window.Cids.Count);
            foreach (var cid in window.Cids)
            {
                if (cid.Length is > 0 and <= ConnectionId.MaxLength)
                {
                    cids.Add(new ConnectionId(cid.Span));
                }
            }

            var request = new CidRegistrationRequest(window.CidKey.Memory, window.FirstCounter, (int)Math.Min(window.Window, int.MaxValue), cids, TimeSpan.Zero);
            var result = _registry.RegisterRemote(node, relay, request);
            if (!result.IsOk)
            {
                LogRemoteRefused(_logger, node, relay.ToString(), result.Message ?? result.Status.ToString());
            }
        }
    }

    private static IEnumerable<CidWindow> ToWindows(IReadOnlyList<CidRegistrationRequest> registrations)
    {
        foreach (var registration in registrations)
        {
            var window = new CidWindow
            {
                CidKey = ByteString.CopyFrom(registration.CidKey.Span),
                FirstCounter = registration.FirstCounter,
                Window = (uint)registration.Window,
            };
            foreach (var cid in registration.Cids)
            {
                window.Cids.Add(ByteString.CopyFrom(cid.Span));
            }

            yield return window;
        }
    }

    [LoggerMessage(EventId = 612, Level = LogLevel.Debug, Message = "Renewing routes at relay {Relay} failed: {Reason}")]
    private static partial void LogRenewFailed(ILogger logger, string relay, string reason);

    [LoggerMessage(EventId = 611, Level = LogLevel.Debug, Message = "Routes of {Node} through relay {Relay} not installed: {Reason}")]
    private static partial void LogRemoteRefused(ILogger logger, NodeId node, string relay, string reason);
}
