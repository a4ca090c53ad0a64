namespace QuicPipe.Relay.Control;

/// <summary>How a registry request ended (maps onto the protocol's error codes).</summary>
public enum RegistryStatus
{
    Ok,

    /// <summary>Malformed: bad key or window, a CID of the wrong length or in the relay's namespace.</summary>
    BadRequest,

    /// <summary>A CID is routed for another identity (or is a static route).</summary>
    CidOwnedByOther,

    /// <summary>A per-identity quota, the identity limit or the route table's capacity would be exceeded.</summary>
    QuotaExceeded,

    /// <summary>Refresh of an identity that has nothing registered (expired, or never registered).</summary>
    NotRegistered,
}
