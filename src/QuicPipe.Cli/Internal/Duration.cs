using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// A duration on the command line, read and written the way people type it: <c>500ms</c>, <c>2s</c>, <c>1m</c>,
/// <c>1h30m</c>, or a bare number of seconds; <c>0</c> means off. What <see cref="ToString()"/> prints,
/// <see cref="TryParse"/> reads back, so a default copied out of <c>--help</c> works as a flag value.
/// </summary>
/// <remarks>
/// Duration options are typed <c>Option&lt;Duration&gt;</c> rather than <c>Option&lt;TimeSpan&gt;</c> because
/// System.CommandLine's help prints a default with its <see cref="object.ToString()"/> (and keeps its help builder's
/// customisation internal): a <see cref="TimeSpan"/> would show as <c>00:00:10</c>. It converts to
/// <see cref="TimeSpan"/> wherever one is needed.
/// </remarks>
internal readonly partial record struct Duration(TimeSpan Value)
{
    /// <summary>The longest duration any flag takes: a day.</summary>
    private const double MaxSeconds = 86_400;

    public static implicit operator TimeSpan(Duration duration) => duration.Value;

    public static bool TryParse(string text, out Duration duration)
    {
        var parsed = TryParseSingle(text, out var value) || TryParseCompound(text, out value);
        duration = new Duration(value);
        return parsed;
    }

    /// <summary>Hours, minutes, seconds and milliseconds, zero parts left out: <c>10s</c>, <c>500ms</c>, <c>1h30m</c>, <c>0</c>.</summary>
    public override string ToString() => Format(Value);

    private static string Format(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
        {
            return "0";
        }

        var text = new StringBuilder();
        Append(text, (long)duration.TotalHours, "h");
        Append(text, duration.Minutes, "m");
        Append(text, duration.Seconds, "s");

        // Below a millisecond only a fraction of one is left: 1.5ms rather than a unit nobody types.
        var milliseconds = (duration.Ticks % TimeSpan.TicksPerSecond) / (double)TimeSpan.TicksPerMillisecond;
        if (milliseconds > 0)
        {
            text.Append(milliseconds.ToString("0.###", CultureInfo.InvariantCulture)).Append("ms");
        }

        return text.ToString();
    }

    private static void Append(StringBuilder text, long value, string unit)
    {
        if (value != 0)
        {
            text.Append(value.ToString(CultureInfo.InvariantCulture)).Append(unit);
        }
    }

    /// <summary>One number with at most one unit (ms, s, m; none = seconds): what the flags have always taken.</summary>
    private static bool TryParseSingle(string text, out TimeSpan duration)
    {
        duration = default;
        var (number, unit) = text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : (text, 1.0);
        // !(value >= 0) also refuses NaN, which TimeSpan.FromSeconds would throw on.
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value >= 0) || value > MaxSeconds / unit)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * unit);
        return true;
    }

    /// <summary>Several numbers each with its unit, hours first (<c>1h30m</c>, <c>1m30s</c>, <c>2s500ms</c>): what <see cref="Format"/> writes.</summary>
    private static bool TryParseCompound(string text, out TimeSpan duration)
    {
        duration = default;
        var match = CompoundPattern().Match(text);
        if (!match.Success)
        {
            return false;
        }

        double seconds = 0;
        foreach (var (group, unit) in new[] { ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001) })
        {
            if (match.Groups[group].Success)
            {
                seconds += double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) * unit;
            }
        }

        if (seconds > MaxSeconds)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(seconds);
        return true;
    }

    [GeneratedRegex(@"^(?=\d)(?:(?<h>\d+(?:\.\d+)?)h)?(?:(?<m>\d+(?:\.\d+)?)m(?!s))?(?:(?<s>\d+(?:\.\d+)?)s)?(?:(?<ms>\d+(?:\.\d+)?)ms)?$", RegexOptions.CultureInvariant)]
    private static partial Regex CompoundPattern();
}
