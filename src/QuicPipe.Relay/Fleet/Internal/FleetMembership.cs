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
/// talking to its own relay, and the two relays forward to each other by CID.
/// </summary>
internal sealed partial class FleetMembership(IRelayDirectory directory, CidRegistry registry, PeerAddress address, ILogger logger) : ILocalIdentityObserver
{
    /// <summary>Delivers a signal to a peer with a control connection to this relay: delivered (null) or why not.</summary>
    public delegate (ErrorCode Code, string Message)? LocalDelivery(NodeId from, NodeId to, ByteString payload);

    private LocalDelivery? _deliver;

    public IRelayDirectory Directory => directory;

    public void OnLocalIdentityAdded(NodeId node) => directory.Publish(node);

    public void OnLocalIdentityRemoved(NodeId node) => directory.Withdraw(node);

    /// <summary>Starts the directory, answering other relays' signals through <paramref name="deliver"/>.</summary>
    public void Start(LocalDelivery deliver)
    {
        _deliver = deliver;
        foreach (var node in registry.LocalIdentities())
        {
            directory.Publish(node);
        }

        directory.Start(OnSignalAsync);
    }

    /// <summary>
    /// Carries a signal from <paramref name="from"/> (registered here) to <paramref name="to"/> (not connected here)
    /// through the relay <paramref name="to"/> is registered at: delivered (null) or why not, as for a local signal.
    /// </summary>
    public async Task<(ErrorCode Code, string Message)?> ForwardAsync(NodeId from, NodeId to, ByteString payload, CancellationToken cancellationToken)
    {
        try
        {
            var relay = await directory.LookupAsync(to, cancellationToken).ConfigureAwait(false);
            if (relay is null)
            {
                return (ErrorCode.UnknownNode, $"{to} is registered at no relay of the fleet");
            }

            var signal = new FleetSignal
            {
                From = ByteString.CopyFrom(from.Bytes),
                To = ByteString.CopyFrom(to.Bytes),
                Payload = payload,
                FromRelayAddress = address.ToString(),
            };
            signal.FromWindows.AddRange(ToWindows(registry.RegistrationsOf(from)));
            var answer = await directory.SendAsync(relay, signal, cancellationToken).ConfigureAwait(false);
            if (answer.Code != ErrorCode.Unspecified)
            {
                return (answer.Code, answer.Message);
            }

            if (!PeerAddress.TryParse(answer.ToRelayAddress, out var toRelay, out _))
            {
                return (ErrorCode.UnknownNode, $"relay {relay} of the fleet answered for {to} without a valid address");
            }

            Install(to, toRelay, answer.ToWindows);
            return null;
        }
        catch (RelayDirectoryException e)
        {
            return (ErrorCode.UnknownNode, $"{to} has no control connection to this relay, and the fleet cannot reach it: {e.Message}");
        }
    }

    /// <summary>A signal another relay sent here: routes the sender's CIDs to that relay, delivers, and answers with the target's CIDs.</summary>
    private Task<FleetAnswer> OnSignalAsync(FleetSignal signal, CancellationToken cancellationToken)
    {
        if (signal.From.Length != RelayProtocol.NodeIdLength || signal.To.Length != RelayProtocol.NodeIdLength ||
            signal.Payload.Length > RelayProtocol.MaxSignalPayload || !PeerAddress.TryParse(signal.FromRelayAddress, out var fromRelay, out _))
        {
            return Task.FromResult(new FleetAnswer { Code = ErrorCode.BadRequest, Message = "a malformed signal between relays" });
        }

        var from = new NodeId(signal.From.Span);
        var to = new NodeId(signal.To.Span);
        if (_deliver is not { } deliver || registry.RegistrationsOf(to).Count == 0)
        {
            // Not ours (any more): nothing of the sender is routed here for it.
            return Task.FromResult(new FleetAnswer { Code = ErrorCode.UnknownNode, Message = $"{to} is not registered at relay {directory.RelayId}" });
        }

        // Routed before the target hears of the dial: its first packets back to the sender find their way.
        Install(from, fromRelay, signal.FromWindows);
        if (deliver(from, to, signal.Payload) is { } refused)
        {
            return Task.FromResult(new FleetAnswer { Code = refused.Code, Message = refused.Message });
        }

        var answer = new FleetAnswer { ToRelayAddress = address.ToString() };
        answer.ToWindows.AddRange(ToWindows(registry.RegistrationsOf(to)));
        return Task.FromResult(answer);
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
            var result = registry.RegisterRemote(node, relay, request);
            if (!result.IsOk)
            {
                LogRemoteRefused(logger, node, relay.ToString(), result.Message ?? result.Status.ToString());
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

    [LoggerMessage(EventId = 611, Level = LogLevel.Debug, Message = "Routes of {Node} through relay {Relay} not installed: {Reason}")]
    private static partial void LogRemoteRefused(ILogger logger, NodeId node, string relay, string reason);
}
