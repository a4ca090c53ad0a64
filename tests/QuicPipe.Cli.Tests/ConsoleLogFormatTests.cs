using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using QuicPipe.Cli.Internal;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// Log lines fit for journald and line-based readers: one line per event (a multi-line exception included), no
/// colour codes when stderr is redirected, systemd's priority prefix only when stderr is the journal's own stream.
/// The formatter the command configures is run directly on a writer (the console itself is the test runner's), and a
/// real relay runs once with its stderr connected the way systemd connects a service's to the journal.
/// </summary>
public sealed class ConsoleLogFormatTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_exception_stays_on_the_event_s_one_line_without_colour_codes(bool journal)
    {
        var text = Format(journal, redirected: true, LogLevel.Error, "Relay running", Thrown());

        Assert.Single(text.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain('\u001b', text);
        Assert.Contains("Relay running", text, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException: outer", text, StringComparison.Ordinal);
        Assert.Contains("InvalidDataException: inner", text, StringComparison.Ordinal);
        Assert.Contains(nameof(Thrown), text, StringComparison.Ordinal); // the stack trace too, on the same line
        if (journal)
        {
            // <3> is syslog's "err": journald files the entry under that priority and strips the prefix.
            Assert.StartsWith("<3>", text, StringComparison.Ordinal);
        }
        else
        {
            Assert.Matches(@"^\d\d:\d\d:\d\d fail: ", text);
        }
    }

    [Theory]
    [InlineData(true, LoggerColorBehavior.Disabled)]
    [InlineData(false, LoggerColorBehavior.Default)]
    public void Colours_are_off_whenever_stderr_is_redirected(bool redirected, LoggerColorBehavior expected)
    {
        using var services = Services(journal: false, redirected);
        Assert.Equal(expected, services.GetRequiredService<IOptionsMonitor<SimpleConsoleFormatterOptions>>().CurrentValue.ColorBehavior);
    }

    [Theory]
    [InlineData("8:12345", "socket:[12345]", true)]
    [InlineData("8:12345", "socket:[123456]", false)]
    [InlineData("8:12345", "pipe:[12345]", false)]
    [InlineData("8:12345", "/var/log/quicpipe.log", false)]
    [InlineData(null, "socket:[12345]", false)]
    [InlineData("garbage", "socket:[12345]", false)]
    [InlineData("8:12345", null, false)]
    public void The_journal_format_is_used_only_when_stderr_is_the_journal_stream(string? journalStream, string? stderrTarget, bool journal) =>
        Assert.Equal(journal, ConsoleLogFormat.IsJournal(journalStream, stderrTarget));

    [Fact]
    public async Task A_relay_whose_stderr_is_the_journal_stream_writes_priority_prefixed_lines()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "journal_stream.py");
        var port = CliTestKit.FreeUdpPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var quicpipe = Path.Combine(AppContext.BaseDirectory, "quicpipe.dll");

        var (code, stdout, stderr) = await ToolProcess.RunAsync("python3", [script, "Relay running", "dotnet", quicpipe, "relay", "--listen", $"127.0.0.1:{port}", "--threads", "1", "--stats-interval", "0"], TimeSpan.FromSeconds(60));

        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("<6>QuicPipe.Cli.Internal.RelayHostedService[1] Relay running", StringComparison.Ordinal));
        Assert.All(lines, l => Assert.Matches(@"^<\d>", l));
    }

    private static Exception Thrown()
    {
        try
        {
            try
            {
                throw new InvalidDataException("inner");
            }
            catch (InvalidDataException e)
            {
                throw new InvalidOperationException("outer", e);
            }
        }
        catch (InvalidOperationException e)
        {
            return e;
        }
    }

    private static string Format(bool journal, bool redirected, LogLevel level, string message, Exception exception)
    {
        using var services = Services(journal, redirected);
        var name = services.GetRequiredService<IOptions<ConsoleLoggerOptions>>().Value.FormatterName;
        var formatter = services.GetServices<ConsoleFormatter>().Single(f => f.Name == name);
        using var writer = new StringWriter();
        var entry = new LogEntry<string>(level, "QuicPipe.Test", new EventId(1), message, exception, (state, _) => state);
        formatter.Write(in entry, new LoggerExternalScopeProvider(), writer);
        return writer.ToString();
    }

    private static ServiceProvider Services(bool journal, bool redirected) =>
        new ServiceCollection().AddLogging(builder => ConsoleLogFormat.AddTo(builder, journal, redirected)).BuildServiceProvider();
}
