namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// Spoils a link on purpose, for tests and lab runs (the kernels we run on have no netem): drops a fraction of the
/// undecided datagrams (<see cref="DropReason.Impaired"/>, counted like any other drop) and holds another fraction
/// back, releasing it after the next batch's datagrams, so it arrives behind datagrams sent after it. Choices come
/// from a <see cref="Random"/> seeded by <see cref="ImpairmentOptions.Seed"/>, so a failing run can be replayed.
/// </summary>
/// <remarks>
/// Held datagrams leave the batch they came in (it is compacted) and are appended, still undecided, to the next
/// batch this stage sees, so the stages after it route them as usual. A receive loop that also runs the pipeline
/// on an empty batch when idle releases them without waiting for more traffic.
/// </remarks>
internal sealed class ImpairmentStage
{
    private readonly PacketDelegate _next;
    private readonly double _dropBelow;
    private readonly double _holdBelow;
    private readonly Random _random;
    private readonly int _maxHeldPerBatch;
    private readonly HeldDatagrams _held;

    public ImpairmentStage(PacketDelegate next, ImpairmentOptions options)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _next = next;
        _dropBelow = options.DropFraction;
        _holdBelow = options.DropFraction + options.ReorderFraction;
        _random = new Random(options.Seed);
        _maxHeldPerBatch = options.MaxHeldDatagrams;

        // Room for what the last batch left held (at most the limit: see Invoke) plus this batch's new holds.
        _held = new HeldDatagrams(2 * options.MaxHeldDatagrams);
    }

    /// <summary>Datagrams dropped so far (loop thread; for tests and diagnostics).</summary>
    public long Dropped { get; private set; }

    /// <summary>Datagrams held back so far.</summary>
    public long Held { get; private set; }

    /// <summary>Held datagrams released so far.</summary>
    public long Released { get; private set; }

    public void Invoke(PacketBatch batch)
    {
        // Only what was held before this batch goes out after it: a datagram held now waits one batch more. Each
        // batch's holds leave as much room in it as they take, so what stays held after the release is at most
        // the larger of the last batch's leftovers and this batch's holds: never more than the limit.
        var releasable = _held.Count;
        var verdicts = batch.Verdicts;
        var kept = 0;
        var heldNow = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            if (verdicts[i] == PacketVerdict.Pending)
            {
                var roll = _random.NextDouble();
                if (roll < _dropBelow)
                {
                    batch.Drop(i, DropReason.Impaired);
                    Dropped++;
                }
                else if (roll < _holdBelow && heldNow < _maxHeldPerBatch && _held.TryHold(batch, i))
                {
                    heldNow++;
                    Held++;
                    continue;
                }
            }

            batch.CopySlotTo(i, batch, kept++);
        }

        batch.Count = kept;
        Released += _held.ReleaseInto(batch, releasable);
        _next(batch);
    }
}
