using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// How a command's log lines look on stderr. Always one line per event, an exception's stack trace included (its line
/// breaks become spaces), so a line-based reader (journald, a script, <c>grep</c>) never splits an event. On a
/// terminal: a timestamp and the usual colours. Redirected: no colour codes, whatever the environment asks. Under
/// journald (stderr is the stream <c>JOURNAL_STREAM</c> names): systemd's format, a syslog priority prefix
/// (<c>&lt;6&gt;</c>) journald turns into the entry's priority and no timestamp, since the journal keeps its own.
/// The text after the level or prefix is the same in every form, so what scripts match on (<c>Relay running</c>,
/// <c>Loaded N static route(s)</c>) is there in each.
/// </summary>
internal static class ConsoleLogFormat
{
    public static void AddTo(ILoggingBuilder builder) =>
        AddTo(builder, IsJournal(Environment.GetEnvironmentVariable("JOURNAL_STREAM"), StderrTarget()), Console.IsErrorRedirected);

    public static void AddTo(ILoggingBuilder builder, bool journal, bool redirected)
    {
        if (journal)
        {
            builder.AddSystemdConsole(o => o.IncludeScopes = false);
        }
        else
        {
            builder.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
                o.ColorBehavior = redirected ? LoggerColorBehavior.Disabled : LoggerColorBehavior.Default;
            });
        }

        // stdout carries the peer's data: every log line goes to stderr.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }

    /// <summary>
    /// True when stderr is the journal stream systemd connected: <c>JOURNAL_STREAM</c> is <c>DEVICE:INODE</c> of that
    /// socket, and <paramref name="stderrTarget"/> (the link <c>/proc/self/fd/2</c>, e.g. <c>socket:[12345]</c>) names
    /// the same inode. The variable alone is not enough: a child of a service inherits it with stderr sent elsewhere.
    /// </summary>
    public static bool IsJournal(string? journalStream, string? stderrTarget) =>
        journalStream?.Split(':') is [_, var inode] && inode.Length > 0 && stderrTarget == $"socket:[{inode}]";

    private static string? StderrTarget()
    {
        try
        {
            return new FileInfo("/proc/self/fd/2").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
