using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

/// <summary>
/// One registration of an identity: either a derived window (a key and the counters [Low, High) it covers,
/// CIDs[i] being counter Low + i) or the identity's explicit CIDs. A CID listed here is routed only while the
/// registry's ownership map still points at this registration (a later request may have moved it).
/// </summary>
internal sealed class Registration
{
    private Registration(byte[]? key, int window)
    {
        Key = key;
        Window = window;
    }

    public byte[]? Key { get; }

    public bool IsDerived => Key is not null;

    /// <summary>Derived CIDs routed ahead of the highest counter seen in use.</summary>
    public int Window { get; set; }

    /// <summary>Lowest counter listed (derived only).</summary>
    public long Low { get; set; }

    /// <summary>One past the highest counter listed (derived only).</summary>
    public long High { get; set; }

    public List<ConnectionId> Cids { get; } = [];

    /// <summary>CIDs listed here whose ownership entry points here.</summary>
    public int OwnedCount { get; set; }

    public long LifetimeMs { get; set; }

    public long ExpiresAtMs { get; set; }

    /// <summary>
    /// The lowest counter that carries the report-use flag: the upper half of the window (at least one CID), so
    /// the first use there moves the window on before the peer runs out of registered CIDs.
    /// </summary>
    public long FlagThreshold => High - Math.Max(1, Window / 2);

    public static Registration Derived(byte[] key, int window) => new(key, window);

    public static Registration Explicit() => new(null, 0);
}
