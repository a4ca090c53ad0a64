using System.Diagnostics.Metrics;

namespace QuicPipe.Dataplane.Diagnostics;

/// <summary>
/// Publishes a set of <see cref="DataplaneCounters"/> (summed over the loops that own them) on a <see cref="Meter"/> as
/// observable instruments. The loops keep counting as they always did, with plain stores into counters no other thread
/// writes; the instruments only read them when a listener collects (a scrape, <c>dotnet-counters</c>), so nothing is
/// allocated or locked per packet. Every area that moves datagrams (the relay's loops, a QUIC endpoint's loop) names
/// its instruments the same way under its own prefix.
/// </summary>
public static class PacketInstruments
{
    // One tag list per drop reason, made once: a collection then reuses them instead of building tags per reason.
    private static readonly KeyValuePair<string, object?>[][] ReasonTags = CreateReasonTags();

    /// <summary>
    /// Adds <c>{prefix}.received</c>, <c>.received.bytes</c>, <c>.{sent}</c>, <c>.{sent}.bytes</c>, <c>.local</c>,
    /// <c>.dropped</c> (tag <c>reason</c>), <c>.batches</c>, <c>.gso.sends</c>, <c>.gso.segments</c> and
    /// <c>.gro.buffers</c> to <paramref name="meter"/>. <paramref name="read"/> sums the counters now (null: nothing
    /// to report yet, e.g. before the sockets are bound); <paramref name="sent"/> names what leaving datagrams are
    /// to this area ("forwarded" for a relay, "sent" for an endpoint).
    /// </summary>
    public static void Add(Meter meter, string prefix, string sent, Func<DataplaneCounters?> read)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        ArgumentException.ThrowIfNullOrEmpty(sent);
        ArgumentNullException.ThrowIfNull(read);

        meter.CreateObservableCounter($"{prefix}.received", () => read()?.Received ?? 0, "{packet}", "Datagrams received (after GRO splitting: one per QUIC datagram).");
        meter.CreateObservableCounter($"{prefix}.received.bytes", () => read()?.ReceivedBytes ?? 0, "By", "Bytes of the datagrams received.");
        meter.CreateObservableCounter($"{prefix}.{sent}", () => read()?.Forwarded ?? 0, "{packet}", "Datagrams handed to the kernel for sending and accepted by it.");
        meter.CreateObservableCounter($"{prefix}.{sent}.bytes", () => read()?.ForwardedBytes ?? 0, "By", "Bytes of the datagrams sent.");
        meter.CreateObservableCounter($"{prefix}.local", () => read()?.Local ?? 0, "{packet}", "Datagrams delivered to a local handler (a QUIC endpoint on the same socket).");
        meter.CreateObservableCounter($"{prefix}.dropped", () => Dropped(read()), "{packet}", "Datagrams dropped, by reason (the names of the stats line: unknown_cid, reflection, ...).");
        meter.CreateObservableCounter($"{prefix}.batches", () => read()?.Batches ?? 0, "{batch}", "Batches run through the pipeline.");
        meter.CreateObservableCounter($"{prefix}.gso.sends", () => read()?.GsoSends ?? 0, "{send}", "sendmsg entries that carried more than one datagram (UDP GSO).");
        meter.CreateObservableCounter($"{prefix}.gso.segments", () => read()?.GsoSegments ?? 0, "{packet}", "Datagrams sent inside GSO sends.");
        meter.CreateObservableCounter($"{prefix}.gro.buffers", () => read()?.GroBuffers ?? 0, "{buffer}", "Received buffers the kernel had coalesced (UDP GRO).");
    }

    /// <summary>The name of the tag that carries a drop reason.</summary>
    public const string ReasonTag = "reason";

    /// <summary>One measurement per drop reason (reason "none" is not a drop and is left out).</summary>
    internal static Measurement<long>[] Dropped(DataplaneCounters? counters)
    {
        var measurements = new Measurement<long>[DropReasons.Count - 1];
        for (var r = 1; r < DropReasons.Count; r++)
        {
            measurements[r - 1] = new Measurement<long>(counters?.Dropped[r] ?? 0, ReasonTags[r]);
        }

        return measurements;
    }

    private static KeyValuePair<string, object?>[][] CreateReasonTags()
    {
        var tags = new KeyValuePair<string, object?>[DropReasons.Count][];
        for (var r = 0; r < DropReasons.Count; r++)
        {
            tags[r] = [new(ReasonTag, DropReasons.Name((DropReason)r))];
        }

        return tags;
    }
}
