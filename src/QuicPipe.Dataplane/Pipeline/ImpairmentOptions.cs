namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// How an impairment stage (<see cref="PipelineBuilderExtensions.UseImpairment"/>) spoils a link: which fraction
/// of datagrams it drops, which fraction it holds back to deliver late, and the seed of its random choices.
/// </summary>
/// <remarks>
/// Each undecided datagram draws one number: below <see cref="DropFraction"/> it is dropped, below
/// <see cref="DropFraction"/> + <see cref="ReorderFraction"/> it is held back, otherwise it passes. A fixed
/// <see cref="Seed"/> makes the sequence of choices reproduce, so a failure seen once can be seen again.
/// </remarks>
public sealed record ImpairmentOptions
{
    /// <summary>Fraction of datagrams dropped (0 to 1), counted as <see cref="DropReason.Impaired"/>.</summary>
    public double DropFraction { get; init; }

    /// <summary>
    /// Fraction of datagrams (0 to 1) held back and released after the next batch's datagrams, so they arrive
    /// after datagrams that were sent later. <see cref="DropFraction"/> + this must not exceed 1.
    /// </summary>
    public double ReorderFraction { get; init; }

    /// <summary>Largest allowed <see cref="MaxHeldDatagrams"/>.</summary>
    public const int MaxHeldLimit = PacketBatch.MaxCapacity / 2;

    /// <summary>
    /// Most datagrams held back from one batch (1 to <see cref="MaxHeldLimit"/>); past it, the batch's datagrams pass
    /// in order. It also bounds what stays held between batches.
    /// </summary>
    public int MaxHeldDatagrams { get; init; } = PacketBatch.DefaultCapacity;

    /// <summary>Seed of the stage's <see cref="Random"/>: the same seed and traffic give the same choices.</summary>
    public int Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> with a message a person can act on.</summary>
    public void Validate()
    {
        if (!(DropFraction is >= 0 and <= 1))
        {
            throw new ArgumentException($"DropFraction must be 0 to 1, not {DropFraction}.");
        }

        if (!(ReorderFraction is >= 0 and <= 1))
        {
            throw new ArgumentException($"ReorderFraction must be 0 to 1, not {ReorderFraction}.");
        }

        if (DropFraction + ReorderFraction > 1)
        {
            throw new ArgumentException($"DropFraction + ReorderFraction must not exceed 1 (each datagram is dropped, held or passed), not {DropFraction} + {ReorderFraction}.");
        }

        if (MaxHeldDatagrams is < 1 or > MaxHeldLimit)
        {
            throw new ArgumentException($"MaxHeldDatagrams must be 1 to {MaxHeldLimit}, not {MaxHeldDatagrams}.");
        }
    }
}
