namespace QuicPipe.Quic.Tests;

/// <summary>
/// The kernel's UDP counters (/proc/net/snmp, whole host), for a test that lost datagrams to say whether the kernel
/// dropped some meanwhile (a full receive buffer counts in RcvbufErrors and InErrors).
/// </summary>
internal sealed class KernelUdpCounters
{
    private readonly Dictionary<string, long> _values;

    private KernelUdpCounters(Dictionary<string, long> values) => _values = values;

    public static KernelUdpCounters Read()
    {
        // Two "Udp:" lines: the names, then the values.
        var lines = File.ReadAllLines("/proc/net/snmp").Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)).ToArray();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse);
        return new KernelUdpCounters(names.Zip(values).ToDictionary(p => p.First, p => p.Second));
    }

    /// <summary>The counters that moved since <paramref name="before"/>, as "Name +delta" pairs ("none moved" if none did).</summary>
    public string Since(KernelUdpCounters before)
    {
        var moved = _values.Where(v => before._values.TryGetValue(v.Key, out var old) && v.Value != old).Select(v => $"{v.Key} +{v.Value - before._values[v.Key]}").ToList();
        return moved.Count == 0 ? "none moved" : string.Join(", ", moved);
    }
}
