using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Wire;
using Xunit;

namespace QuicPipe.Relay.Tests;

public class RelayForwardingStageTests
{
    private static readonly PeerAddress Sender = Address("127.0.0.1", 1000);
    private static readonly PeerAddress Sink = Address("127.0.0.1", 2000);
    private static readonly PeerAddress Sink6 = Address("::1", 3000);

    [Fact]
    public void Routed_CIDs_are_forwarded_unknown_and_reflected_ones_dropped()
    {
        var table = new CidTable(16);
        var known = Cid(1);
        var known6 = Cid(2);
        var reflected = Cid(3);
        table.Set(known, new CidRoute(Sink, 7, long.MaxValue));
        table.Set(known6, new CidRoute(Sink6, 7, long.MaxValue));
        table.Set(reflected, new CidRoute(Sender, 7, long.MaxValue));

        var batch = new PacketBatch(8);
        var toSink = batch.Add(ShortPacket(known), Sender);
        var toSink6 = batch.Add(ShortPacket(known6), Sender);
        var unknown = batch.Add(ShortPacket(Cid(9)), Sender);
        var back = batch.Add(ShortPacket(reflected), Sender);
        var malformed = batch.Add([0x40, 1, 2], Sender);
        var preDropped = batch.Add(ShortPacket(known), Sender);
        batch.Drop(preDropped, DropReason.Oversize);

        var calls = 0;
        var pipeline = new PipelineBuilder()
            .UseQuicHeaderParsing(12)
            .UseRelayForwarding(table)
            .Run(_ => calls++)
            .Build();
        pipeline(batch);

        Assert.Equal(1, calls);
        Assert.Equal(PacketVerdict.Forward, batch.Verdicts[toSink]);
        Assert.Equal(Sink, batch.Destinations[toSink]);
        Assert.Equal(PacketVerdict.Forward, batch.Verdicts[toSink6]);
        Assert.Equal(Sink6, batch.Destinations[toSink6]);
        Assert.Equal(DropReason.UnknownCid, batch.DropReasons[unknown]);
        Assert.Equal(DropReason.Reflection, batch.DropReasons[back]);
        Assert.Equal(DropReason.Truncated, batch.DropReasons[malformed]);
        Assert.Equal(DropReason.Oversize, batch.DropReasons[preDropped]);
        Assert.Equal(PacketVerdict.Drop, batch.Verdicts[preDropped]);
    }

    [Fact]
    public void A_local_route_is_marked_local_with_its_slot_not_forwarded()
    {
        var table = new CidTable(4);
        table.Set(Cid(4), CidRoute.Local(3, ownerId: 7, long.MaxValue));
        var batch = new PacketBatch(2);
        var slot = batch.Add(ShortPacket(Cid(4)), Sender);

        new PipelineBuilder().UseQuicHeaderParsing(12).UseRelayForwarding(table).Build()(batch);

        Assert.Equal(PacketVerdict.Local, batch.Verdicts[slot]);
        Assert.Equal(3, batch.LocalSlots[slot]);
    }

    [Fact]
    public void Long_header_packets_route_by_their_DCID_too()
    {
        var table = new CidTable(4);
        var cid = Cid(5);
        table.Set(cid, new CidRoute(Sink, 1, long.MaxValue));
        var packet = new byte[64];
        var length = QuicPacketWriter.WriteLongHeader(packet, QuicVersions.V1, QuicPacketType.Initial, cid.Span, Cid(6).Span, 20);
        var batch = new PacketBatch(1);
        batch.Add(packet.AsSpan(0, length), Sender);

        new PipelineBuilder().UseQuicHeaderParsing(12).UseRelayForwarding(table).Build()(batch);

        Assert.Equal(PacketVerdict.Forward, batch.Verdicts[0]);
        Assert.Equal(Sink, batch.Destinations[0]);
    }

    [Fact]
    public void An_expired_route_is_not_used()
    {
        var table = new CidTable(4);
        var cid = Cid(1);
        table.Set(cid, new CidRoute(Sink, 1, table.NowMs - 1));
        var batch = new PacketBatch(1);
        batch.Add(ShortPacket(cid), Sender);

        new PipelineBuilder().UseQuicHeaderParsing(12).UseRelayForwarding(table).Build()(batch);

        Assert.Equal(DropReason.UnknownCid, batch.DropReasons[0]);
    }

    internal static ConnectionId Cid(int n)
    {
        var bytes = new byte[12];
        BitConverter.TryWriteBytes(bytes.AsSpan(8), n);
        bytes[0] = 0x2a;
        return new ConnectionId(bytes);
    }

    internal static byte[] ShortPacket(ConnectionId cid, int payloadLength = 40)
    {
        var packet = new byte[1 + cid.Length + payloadLength];
        var length = QuicPacketWriter.WriteShortHeader(packet, cid.Span, payloadLength);
        return packet[..length];
    }

    private static PeerAddress Address(string ip, int port) => PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse(ip), port));
}
