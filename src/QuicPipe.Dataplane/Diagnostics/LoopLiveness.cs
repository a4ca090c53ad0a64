namespace QuicPipe.Dataplane.Diagnostics;

/// <summary>
/// Whether one loop thread (a receive loop, a QUIC endpoint's engine loop) still runs: what a liveness check such as
/// <c>/healthz</c> reads. A loop survives the failures of single batches and steps (it counts and logs them); only an
/// exception it must not swallow (out of memory) ends it early, and the loop records that here before its thread ends,
/// instead of taking the whole process down with an unhandled exception: the process stays up to say what died, and a
/// supervisor that polls the check restarts it. A loop that ends because it was asked to stop is not dead.
/// </summary>
public sealed class LoopLiveness
{
    private volatile Exception? _failure;

    internal LoopLiveness(string name)
    {
        Name = name;
    }

    /// <summary>The loop's thread name, e.g. <c>udp-rx 127.0.0.1:4433</c>.</summary>
    public string Name { get; }

    /// <summary>True once the loop ended without being asked to.</summary>
    public bool IsDead => _failure is not null;

    /// <summary>What ended the loop, or null while it runs (or after a requested stop).</summary>
    public Exception? Failure => _failure;

    /// <summary>One line for an operator: the loop's name and what ended it.</summary>
    public override string ToString() => _failure is { } e ? $"{Name}: died: {e.GetType().Name}: {e.Message}" : $"{Name}: running";

    /// <summary>Called by the loop's thread as its last act when <paramref name="failure"/> ended it.</summary>
    internal void MarkDead(Exception failure) => _failure = failure;
}
