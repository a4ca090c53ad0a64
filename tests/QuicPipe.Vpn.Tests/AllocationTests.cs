using QuicPipe.Dataplane;
using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

/// <summary>The per-packet functions of the VPN's stages, and the stages themselves, allocate nothing: 10,000 calls each, 0 bytes.</summary>
public class AllocationTests
{
    private const int Calls = 10_000;

    [Fact]
    public void Parsing_allocates_nothing()
    {
        var v4 = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 1400);
        var v6 = IPv6("fd00::2", "fd00::7", 0, Concat(ExtensionHeader(44), FragmentHeader(IcmpV6, 0, more: false), IcmpMessage(128)));
        long parsed = 0;
        Assert.Equal(0, SteadyStateAllocation.Measure(() =>
        {
            for (var i = 0; i < Calls; i++)
            {
                parsed += IpPacket.TryParse(v4, out var a) ? a.TotalLength : 0;
                parsed += IpPacket.TryParse(v6, out var b) ? b.TotalLength : 0;
            }
        }));
        Assert.True(parsed > 0);
    }

    [Fact]
    public void Lookups_allocate_nothing()
    {
        var table = new PrefixTable<string>([
            (IpPrefix.Parse("10.0.0.0/8"), "a"),
            (IpPrefix.Parse("10.9.0.0/16"), "b"),
            (IpPrefix.Parse("100.64.0.2/32"), "c"),
            (IpPrefix.Parse("fd00::/8"), "d"),
            (IpPrefix.Parse("fd00:64::2/128"), "e"),
        ]);
        var addresses = new[] { Address("10.9.1.1"), Address("100.64.0.2"), Address("192.0.2.1"), Address("fd00:64::2"), Address("2001:db8::1") };
        var prefix = IpPrefix.Parse("10.9.0.0/16");
        long hits = 0;
        Assert.Equal(0, SteadyStateAllocation.Measure(() =>
        {
            for (var i = 0; i < Calls; i++)
            {
                var address = addresses[i % addresses.Length];
                hits += table.TryLookup(address, out _) ? 1 : 0;
                hits += prefix.Contains(address) ? 1 : 0;
            }
        }));
        Assert.True(hits > 0);
    }

    [Fact]
    public void Checksums_allocate_nothing()
    {
        var data = Payload(1500);
        long total = 0;
        Assert.Equal(0, SteadyStateAllocation.Measure(() =>
        {
            for (var i = 0; i < Calls; i++)
            {
                total += InternetChecksum.Compute(data);
            }
        }));
        Assert.NotEqual(0, total);
    }

    [Fact]
    public void ICMP_errors_allocate_nothing()
    {
        var v4 = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 1400);
        var v6 = Udp6("fd00:64::2", "2001:db8::7", payloadLength: 1400);
        var ours4 = Address("100.64.0.1");
        var ours6 = Address("fd00:64::1");
        var reply = new byte[IcmpError.MaxLength];
        long written = 0;
        Assert.Equal(0, SteadyStateAllocation.Measure(() =>
        {
            for (var i = 0; i < Calls; i++)
            {
                written += IcmpError.WritePacketTooBig(v4, ours4, 1280, reply);
                written += IcmpError.WriteUnreachable(v6, ours6, UnreachableReason.NoRoute, reply);
            }
        }));
        Assert.True(written > 0);
    }

    [Fact]
    public async Task The_three_stages_allocate_nothing_per_packet()
    {
        // A's dial fails at once (no relay) on the first packet, in the warm-up; within the redial delay its
        // packets are then dropped and counted. The rest: ICMP answers written in place (IPv4, IPv6), an ICMP
        // error dropped unanswered, and a frame that is not IP.
        await using var vpn = TestVpn.Create([(TestVpn.NewPeer(), ["10.9.0.0/16", "fd00:64::/64"])], o => o.RedialDelay = TimeSpan.FromHours(1));
        var pipeline = vpn.Pipeline();
        byte[][] packets =
        [
            Udp4("100.64.0.1", "10.9.0.7", payloadLength: 1200),
            Udp6("fd00:64::1", "fd00:64::7", payloadLength: 1200),
            Udp4("100.64.0.1", "192.0.2.7", payloadLength: 1200),
            Udp6("fd00:64::1", "2001:db8::7", payloadLength: 1200),
            IPv4("100.64.0.1", "192.0.2.7", Icmp, IcmpMessage(type: 3, code: 1)),
            [0x00, 0x01, 0x02, 0x03],
        ];
        const int BatchSize = 50;
        var batch = new PacketBatch(BatchSize);
        long forwarded = 0;
        long consumed = 0;
        var allocated = SteadyStateAllocation.Measure(() =>
        {
            for (var sent = 0; sent < Calls; sent += BatchSize)
            {
                batch.Clear();
                for (var i = 0; i < BatchSize; i++)
                {
                    batch.Add(packets[(sent + i) % packets.Length], default);
                }

                pipeline(batch);
                for (var i = 0; i < BatchSize; i++)
                {
                    forwarded += batch.Verdicts[i] == PacketVerdict.Forward ? 1 : 0;
                    consumed += batch.Verdicts[i] == PacketVerdict.Consumed ? 1 : 0;
                }
            }
        });

        Assert.Equal(0, allocated);
        Assert.True(forwarded > 0 && consumed > 0, $"forwarded {forwarded}, consumed {consumed}");
        Assert.True(vpn.Counters.NoRoutePackets > Calls && vpn.Counters.NotIpPackets > Calls / 10, $"no route {vpn.Counters.NoRoutePackets}, not IP {vpn.Counters.NotIpPackets}");

        // Every packet for A, in every round, was dropped waiting for a connection: none sent, none lost uncounted.
        Assert.Equal(consumed, vpn.Counters.PendingDroppedPackets);
        Assert.Equal(0, vpn.Counters.Sent);
        Assert.Single(vpn.DialFailures);
    }
}
