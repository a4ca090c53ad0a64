using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

/// <summary>
/// The runtime's allocation samples (GC AllocationTick: one event per about 100 KB allocated, naming the type whose
/// allocation crossed the mark), counted by type and allocating thread while <see cref="Recording"/> is on: which types make up the bytes
/// the bench reports allocated during a transfer.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytesByType = new();

    public volatile bool Recording;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!Recording || eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.PayloadNames is null)
        {
            return;
        }

        var type = eventData.PayloadNames.IndexOf("TypeName") is var t and >= 0 ? eventData.Payload![t] as string ?? "?" : "?";
        type += " on " + ThreadName(eventData.OSThreadId);
        var amount = eventData.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(eventData.Payload![a], System.Globalization.CultureInfo.InvariantCulture) : 0;
        _bytesByType.AddOrUpdate(type, amount, (_, sum) => sum + amount);
    }

    private static string ThreadName(long osThreadId)
    {
        try
        {
            return File.ReadAllText($"/proc/self/task/{osThreadId}/comm").Trim();
        }
        catch (IOException)
        {
            return osThreadId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>One line per type and thread, most bytes first: "sampled bytes  type on thread".</summary>
    public IEnumerable<string> Report() =>
        _bytesByType.OrderByDescending(p => p.Value).Select(p => $"{p.Value,12}  {p.Key}");
}
