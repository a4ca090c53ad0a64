using QuicPipe.Dataplane.Wire;

namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// Parses the QUIC header of every undecided datagram in a batch into <see cref="PacketBatch.Headers"/>,
/// so later stages (CID lookup) read fields instead of bytes; malformed datagrams are dropped here
/// with the parser's reason. Slots an earlier stage already decided are left as they are.
/// </summary>
internal sealed class QuicHeaderStage
{
    private readonly PacketDelegate _next;
    private readonly int _shortDcidLength;

    public QuicHeaderStage(PacketDelegate next, int shortDcidLength)
    {
        ArgumentNullException.ThrowIfNull(next);

        // Checked once here so that a bad setting fails at build time, not on the first packet.
        ArgumentOutOfRangeException.ThrowIfNegative(shortDcidLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shortDcidLength, ConnectionId.MaxLength);
        _next = next;
        _shortDcidLength = shortDcidLength;
    }

    public void Invoke(PacketBatch batch)
    {
        var count = batch.Count;
        var verdicts = batch.Verdicts[..count];
        var headers = batch.Headers[..count];
        for (var i = 0; i < verdicts.Length; i++)
        {
            if (verdicts[i] != PacketVerdict.Pending)
            {
                continue;
            }

            var reason = QuicHeaderParser.Parse(batch.Payload(i), _shortDcidLength, out headers[i]);
            if (reason != DropReason.None)
            {
                batch.Drop(i, reason);
            }
        }

        _next(batch);
    }
}
