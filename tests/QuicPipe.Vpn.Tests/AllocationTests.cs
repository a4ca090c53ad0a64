using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

/// <summary>The per-packet functions of the VPN's stages allocate nothing: 10,000 calls each, 0 bytes.</summary>
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
}
