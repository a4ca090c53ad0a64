using System.Collections.Concurrent;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>The out-of-band mode: a dial set up by an offer carried by hand instead of signalling.</summary>
public sealed partial class PeerEndpoint
{
    // Beyond this many, an offer's dialer is not remembered: its connection then stays relayed.
    private const int MaxOfferDialers = 4096;

    // Dialers of offers we accepted: they may ask us for hole punching as allowed dialers do.
    private readonly ConcurrentDictionary<NodeId, byte> _offerDialers = new();

    /// <summary>Whether a peer may ask us for a probing round: an allowed dialer, or the dialer of an offer we accepted.</summary>
    private bool MayAskForPunch(NodeId peer) => Allows(peer) || _offerDialers.ContainsKey(peer);

    /// <summary>An offer for the peer we are about to dial with <see cref="DialOfferAsync"/>.</summary>
    public DialOffer CreateOffer() => DialOffer.Create(NodeId, _options.CidLength);

    /// <summary>
    /// Dials <paramref name="peer"/> with the offer's CID. Until the peer has read the offer (and registered the
    /// CID), the relay drops our Initials and QUIC retransmits them: this waits up to <paramref name="timeout"/>.
    /// An offer carries no candidates, so once connected we ask the peer for them through the relay (as a retry
    /// does) and the connection moves to a direct path as a signalled dial's would.
    /// </summary>
    public async Task<QuicConnection> DialOfferAsync(DialOffer offer, NodeId peer, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offer);
        if (offer.Dialer != NodeId)
        {
            throw new ArgumentException("The offer was made by another node.", nameof(offer));
        }

        var connection = await ConnectThroughRelayAsync(peer, offer.InitialDcid, timeout, cancellationToken).ConfigureAwait(false);
        await TrackAsync(connection, cancellationToken).ConfigureAwait(false);
        _direct.StartForOffer(connection, peer);
        return connection;
    }

    /// <summary>
    /// Accepts the dial an offer announces: registers its CID with the relay as ours and pins the connection that
    /// arrives on it to the offer's dialer. The connection then comes out of <see cref="AcceptAsync"/>.
    /// </summary>
    public async Task AcceptOfferAsync(DialOffer offer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var control = _control ?? throw NotConnected();
        if (offer.InitialDcid.Length != _options.CidLength)
        {
            throw new PeerException($"The offer's CID has {offer.InitialDcid.Length} bytes; this relay uses {_options.CidLength}.");
        }

        try
        {
            await control.RegisterExplicitAsync([offer.InitialDcid], _options.RegistrationLifetime, cancellationToken).ConfigureAwait(false);
        }
        catch (RelayControlException e)
        {
            throw new PeerException(PeerFailure.RelayRefused, $"Relay {_options.Relay} refused the offer's CID: {e.Message}", e);
        }

        _incoming.Add(offer.InitialDcid, offer.Dialer, _options.RegistrationLifetime);
        if (_offerDialers.Count < MaxOfferDialers)
        {
            _offerDialers.TryAdd(offer.Dialer, 0);
        }
    }
}
