using System.CommandLine;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Flags only the netcat-like commands (<c>dial</c>, <c>accept</c>) take: the tunnel commands carry TCP, not stdin,
/// so offering them <c>--hello</c> would be a flag that silently does nothing.
/// </summary>
internal sealed class NetcatOptions
{
    public Option<bool> Hello { get; } = new("--hello")
    {
        Description = "Instead of stdin, send a hello line every second until interrupted (a connectivity check).",
    };

    public Option<Duration> StatsInterval { get; } = CliOptions.Duration(
        "--stats-interval",
        "Every DURATION, and once more at the end, a line 'stats: path KIND ADDR via_relay BYTES direct BYTES rtt Nms' on stderr (bytes sent plus received on each kind of path). 0: none.",
        TimeSpan.Zero);

    public void AddTo(Command command)
    {
        command.Options.Add(Hello);
        command.Options.Add(StatsInterval);
    }
}
