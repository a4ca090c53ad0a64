using System.Globalization;

namespace QuicPipe.Lab.Tests;

/// <summary>
/// Reads what quicpipe dial and accept print on stderr about their path:
/// <c>path: relayed|direct ADDR rtt Nms peer NODEID</c> at start and at each change, and with --stats-interval
/// <c>stats: path KIND ADDR via_relay BYTES direct BYTES rtt Nms</c>.
/// </summary>
internal static class PathLines
{
    public static bool IsRelayed(string line) => line.StartsWith("path: relayed ", StringComparison.Ordinal);

    public static bool IsDirect(string line) => line.StartsWith("path: direct ", StringComparison.Ordinal);

    /// <summary>A direct path line whose address is on <paramref name="address"/> (a NAT's public address).</summary>
    public static Func<string, bool> IsDirectTo(System.Net.IPAddress address) =>
        line => line.StartsWith($"path: direct {address}:", StringComparison.Ordinal);

    public static bool IsStats(string line) => line.StartsWith("stats: ", StringComparison.Ordinal);

    /// <summary>The byte counters of a stats line.</summary>
    public static (long ViaRelay, long Direct) ParseStats(string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (Field(words, "via_relay", line), Field(words, "direct", line));
    }

    private static long Field(string[] words, string name, string line)
    {
        // "direct" is also a path kind ("stats: path direct ADDR ..."): the counter is the one followed by a number.
        for (var i = 0; i + 1 < words.Length; i++)
        {
            if (words[i] == name && long.TryParse(words[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }

        throw new FormatException($"no '{name} N' in stats line '{line}'");
    }
}
