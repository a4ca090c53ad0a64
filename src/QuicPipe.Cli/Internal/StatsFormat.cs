namespace QuicPipe.Cli.Internal;

/// <summary>How the periodic stats are printed.</summary>
internal enum StatsFormat
{
    /// <summary>One line a person reads; redrawn in place when stderr is a terminal.</summary>
    Text,

    /// <summary>One JSON object per interval, cumulative counters, for scripts (perf/).</summary>
    Json,
}
