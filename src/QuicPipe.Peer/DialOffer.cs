using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// What an accepter needs, when there is no signalling, so that the relay routes a dialer's first Initial to it:
/// the dialer's NodeId (to pin) and the initial destination CID the dialer will use (the accepter registers it
/// with the relay as its own). Carried by hand or by any other channel; it holds nothing secret and no packet.
/// </summary>
/// <remarks>Compact form: <c>qpo1.NODEID.DCIDHEX</c>; JSON form: <c>{"version":1,"dialer":"NODEID","dcid":"HEX"}</c>.</remarks>
public sealed record DialOffer(NodeId Dialer, ConnectionId InitialDcid)
{
    private const string CompactPrefix = "qpo1.";

    /// <summary>A new offer from <paramref name="dialer"/>: a random peer-to-peer-namespace CID of <paramref name="cidLength"/> bytes.</summary>
    public static DialOffer Create(NodeId dialer, int cidLength)
    {
        var bytes = RandomNumberGenerator.GetBytes(cidLength);
        bytes[0] &= 0x7f;
        return new DialOffer(dialer, new ConnectionId(bytes));
    }

    /// <summary>The compact form.</summary>
    public override string ToString() => $"{CompactPrefix}{Dialer}.{Convert.ToHexStringLower(InitialDcid.Span)}";

    /// <summary>The JSON form.</summary>
    public string ToJson() => JsonSerializer.Serialize(new Json(1, Dialer.ToString(), Convert.ToHexStringLower(InitialDcid.Span)));

    /// <summary>Reads either form; false with a reason a person can act on.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out DialOffer? offer, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        offer = null;
        text = text.Trim();
        string dialer;
        string dcid;
        if (text.StartsWith(CompactPrefix, StringComparison.Ordinal))
        {
            var parts = text[CompactPrefix.Length..].Split('.');
            if (parts.Length != 2)
            {
                error = $"an offer reads {CompactPrefix}NODEID.DCIDHEX";
                return false;
            }

            (dialer, dcid) = (parts[0], parts[1]);
        }
        else if (text.StartsWith('{'))
        {
            Json? json;
            try
            {
                json = JsonSerializer.Deserialize<Json>(text);
            }
            catch (JsonException e)
            {
                error = $"the offer is not valid JSON: {e.Message}";
                return false;
            }

            if (json is not { Version: 1, Dialer: { } d, Dcid: { } c })
            {
                error = "the JSON offer needs version 1, dialer and dcid";
                return false;
            }

            (dialer, dcid) = (d, c);
        }
        else
        {
            error = $"an offer starts with {CompactPrefix} or is a JSON object";
            return false;
        }

        if (!NodeId.TryParse(dialer, out var id))
        {
            error = $"'{dialer}' is not a NodeId";
            return false;
        }

        byte[] cid;
        try
        {
            cid = Convert.FromHexString(dcid);
        }
        catch (FormatException)
        {
            error = $"'{dcid}' is not a hex CID";
            return false;
        }

        if (cid.Length is < 8 or > ConnectionId.MaxLength || CidDerivation.NamespaceOf(new ConnectionId(cid)) != CidNamespace.PeerToPeer)
        {
            error = "the offer's CID must be 8 to 20 bytes in the peer-to-peer namespace (top bit clear)";
            return false;
        }

        offer = new DialOffer(id, new ConnectionId(cid));
        error = null;
        return true;
    }

    private sealed record Json(
        [property: System.Text.Json.Serialization.JsonPropertyName("version")] int Version,
        [property: System.Text.Json.Serialization.JsonPropertyName("dialer")] string? Dialer,
        [property: System.Text.Json.Serialization.JsonPropertyName("dcid")] string? Dcid);
}
