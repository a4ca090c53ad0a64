using System.Buffers.Binary;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Dataplane.Tests.Pipeline;

/// <summary>
/// A pipeline with an impairment stage fed datagrams that carry their sequence number (4 bytes, big-endian),
/// recording what came out the other end: which numbers were delivered, in which output batch, and which were
/// dropped. What a receive loop would do, without a socket.
/// </summary>
internal sealed class SequencedLink
{
    private readonly PacketBatch _batch;
    private readonly PacketDelegate _pipeline;
    private int _next;

    public SequencedLink(ImpairmentOptions options, int batchCapacity = PacketBatch.DefaultCapacity)
    {
        _batch = new PacketBatch(batchCapacity, 64);
        _pipeline = new PipelineBuilder().UseImpairment(options).Run(Record).Build();
    }

    /// <summary>Numbers delivered, in delivery order, each with the index of the batch that carried it out.</summary>
    public List<(int Sequence, int Batch)> Delivered { get; } = [];

    /// <summary>Numbers dropped, counted as <see cref="DropReason.Impaired"/>.</summary>
    public List<int> Dropped { get; } = [];

    /// <summary>Drops with any other reason, or datagrams left undecided: none should exist.</summary>
    public int Unexpected { get; private set; }

    /// <summary>Batches run so far.</summary>
    public int Batches { get; private set; }

    /// <summary>Sends the next <paramref name="count"/> numbers as one batch.</summary>
    public void SendBatch(int count)
    {
        _batch.Clear();
        Span<byte> datagram = stackalloc byte[4];
        for (var i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(datagram, _next++);
            _batch.Add(datagram, default);
        }

        Run();
    }

    /// <summary>Runs an empty batch, as an idle receive loop does: it carries out what was held.</summary>
    public void Idle()
    {
        _batch.Clear();
        Run();
    }

    public int Sent => _next;

    private void Run()
    {
        _pipeline(_batch);
        Batches++;
    }

    private void Record(PacketBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var sequence = BinaryPrimitives.ReadInt32BigEndian(batch.Payload(i));
            switch (batch.Verdicts[i])
            {
                case PacketVerdict.Pending:
                    Delivered.Add((sequence, Batches));
                    break;
                case PacketVerdict.Drop when batch.DropReasons[i] == DropReason.Impaired:
                    Dropped.Add(sequence);
                    break;
                default:
                    Unexpected++;
                    break;
            }
        }
    }
}
