namespace QuicPipe.Lab.Tests;

/// <summary>A line a lab process wrote to stderr, and when the test saw it (on the test's shared clock).</summary>
internal readonly record struct TimedLine(TimeSpan At, string Text)
{
    public override string ToString() => $"[{At.TotalSeconds:0.000}] {Text}";
}
