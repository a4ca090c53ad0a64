using QuicPipe.Cli.Internal;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>Durations as the flags take them and as the CLI prints them.</summary>
public sealed class DurationTests
{
    [Theory]
    [InlineData("500ms", 0.5)]
    [InlineData("5MS", 0.005)]
    [InlineData("2s", 2)]
    [InlineData("1.5s", 1.5)]
    [InlineData("1m", 60)]
    [InlineData("0.25m", 15)]
    [InlineData("10", 10)]
    [InlineData("0", 0)]
    [InlineData("86400", 86_400)]
    public void What_the_flags_always_took_still_parses(string text, double seconds)
    {
        Assert.True(Duration.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration.Value);
    }

    [Theory]
    [InlineData("1h", 3600)]
    [InlineData("1h30m", 5400)]
    [InlineData("1m30s", 90)]
    [InlineData("2s500ms", 2.5)]
    [InlineData("1h0m5s", 3605)]
    public void The_compound_form_it_prints_parses_too(string text, double seconds)
    {
        Assert.True(Duration.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration.Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1x")]
    [InlineData("-1s")]
    [InlineData("2d")]
    [InlineData("25h")]
    [InlineData("86401")]
    [InlineData("1s1m")]
    [InlineData("NaN")]
    [InlineData("h")]
    public void Anything_else_is_refused(string text)
    {
        Assert.False(Duration.TryParse(text, out _));
    }

    [Theory]
    [InlineData(10_000, "10s")]
    [InlineData(500, "500ms")]
    [InlineData(120_000, "2m")]
    [InlineData(5_400_000, "1h30m")]
    [InlineData(90_000, "1m30s")]
    [InlineData(1_500, "1s500ms")]
    [InlineData(0, "0")]
    [InlineData(93_600_000, "26h")]
    public void It_prints_as_people_write_it_and_reads_back_what_it_printed(long milliseconds, string expected)
    {
        var duration = new Duration(TimeSpan.FromMilliseconds(milliseconds));

        var text = duration.ToString();

        Assert.Equal(expected, text);
        if (milliseconds <= 86_400_000)
        {
            Assert.True(Duration.TryParse(text, out var back));
            Assert.Equal(duration, back);
        }
    }
}
