using System.Net;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

public class PrefixTableTests
{
    private static PrefixTable<string> Table(params (string Prefix, string Peer)[] entries) =>
        new(entries.Select(e => (IpPrefix.Parse(e.Prefix), e.Peer)));

    [Theory]
    [InlineData("10.1.2.3", "slash32")]
    [InlineData("10.1.2.4", "slash24")]
    [InlineData("10.1.3.1", "slash16")]
    [InlineData("10.2.0.1", "slash8")]
    [InlineData("10.255.255.255", "slash8")]
    [InlineData("11.0.0.0", null)]
    [InlineData("9.255.255.255", null)]
    public void The_longest_matching_prefix_wins(string address, string? expected)
    {
        // Given in an order that is neither longest- nor shortest-first.
        var table = Table(("10.1.0.0/16", "slash16"), ("10.1.2.3/32", "slash32"), ("10.0.0.0/8", "slash8"), ("10.1.2.0/24", "slash24"));
        Assert.Equal(expected is not null, table.TryLookup(Address(address), out var peer));
        Assert.Equal(expected, peer);
    }

    [Theory]
    [InlineData("fd00:64::2", "host")]
    [InlineData("fd00:64::3", "net64")]
    [InlineData("fd00:64:0:1::1", "net48")]
    [InlineData("fd00:65::1", null)]
    public void The_longest_matching_prefix_wins_for_IPv6(string address, string? expected)
    {
        var table = Table(("fd00:64::/48", "net48"), ("fd00:64::2/128", "host"), ("fd00:64::/64", "net64"));
        Assert.Equal(expected is not null, table.TryLookup(Address(address), out var peer));
        Assert.Equal(expected, peer);
    }

    [Fact]
    public void The_families_are_apart()
    {
        var table = Table(("0.0.0.0/0", "v4-default"), ("10.0.0.0/8", "v4"));
        Assert.True(table.TryLookup(Address("10.0.0.1"), out var peer));
        Assert.Equal("v4", peer);
        Assert.True(table.TryLookup(Address("192.0.2.1"), out peer));
        Assert.Equal("v4-default", peer);

        // An IPv6 address whose first bytes spell 10.0.0.1, and the IPv4-mapped form, meet no IPv4 prefix.
        Assert.False(table.TryLookup(Address("a00:1::"), out _));
        Assert.False(table.TryLookup(Address("::ffff:10.0.0.1"), out _));

        var v6Only = Table(("::/0", "v6-default"));
        Assert.False(v6Only.TryLookup(Address("10.0.0.1"), out _));
        Assert.True(v6Only.TryLookup(Address("2001:db8::1"), out peer));
        Assert.Equal("v6-default", peer);
    }

    [Fact]
    public void A_span_of_neither_length_matches_nothing()
    {
        var table = Table(("0.0.0.0/0", "a"), ("::/0", "b"));
        Assert.False(table.TryLookup([], out _));
        Assert.False(table.TryLookup(new byte[5], out _));
        Assert.False(table.TryLookup(new byte[15], out _));
    }

    [Fact]
    public void An_empty_table_matches_nothing()
    {
        var table = new PrefixTable<int>([]);
        Assert.Equal(0, table.Count);
        Assert.False(table.TryLookup(Address("10.0.0.1"), out var value));
        Assert.Equal(0, value);
    }

    [Fact]
    public void One_prefix_for_two_peers_is_refused_by_name()
    {
        var error = Assert.Throws<ArgumentException>(() => Table(("10.9.0.0/16", "alice"), ("100.64.0.2/32", "alice"), ("10.9.0.0/16", "bob")));
        Assert.Contains("10.9.0.0/16", error.Message, StringComparison.Ordinal);
        Assert.Contains("alice", error.Message, StringComparison.Ordinal);
        Assert.Contains("bob", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_prefix_twice_for_one_peer_is_kept_once()
    {
        var table = Table(("10.9.0.0/16", "alice"), ("10.9.0.0/16", "alice"), ("fd00::/8", "alice"));
        Assert.Equal(2, table.Count);
        Assert.True(table.TryLookup(Address("10.9.1.1"), out var peer));
        Assert.Equal("alice", peer);
    }

    [Fact]
    public void A_default_prefix_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new PrefixTable<int>([(default, 1)]));
    }

    [Fact]
    public void Source_validation_is_a_lookup_and_a_compare()
    {
        // Cryptokey routing inbound: a packet from peer 1 may carry only a source peer 1's prefixes hold.
        var table = new PrefixTable<int>([(IpPrefix.Parse("100.64.0.2/32"), 1), (IpPrefix.Parse("10.9.0.0/16"), 1), (IpPrefix.Parse("100.64.0.3/32"), 2)]);
        static bool Accept(PrefixTable<int> table, int fromPeer, string source) =>
            table.TryLookup(Address(source), out var owner) && owner == fromPeer;

        Assert.True(Accept(table, 1, "10.9.4.4"));
        Assert.True(Accept(table, 2, "100.64.0.3"));
        Assert.False(Accept(table, 2, "10.9.4.4"));
        Assert.False(Accept(table, 1, "100.64.0.9"));
    }

    [Fact]
    public void Agrees_with_a_linear_scan_on_thousands_of_random_prefixes()
    {
        // Prefixes cluster under a few networks so that many overlap; lookups mix addresses inside and near them.
        var random = new Random(1071);
        var entries = new Dictionary<IpPrefix, int>();
        while (entries.Count < 3000)
        {
            var v6 = random.Next(3) == 0;
            var bytes = new byte[v6 ? 16 : 4];
            random.NextBytes(bytes);
            bytes[0] = (byte)(v6 ? 0xFD : 10);
            bytes[1] = (byte)random.Next(4);
            var length = v6 ? random.Next(8, 129) : random.Next(8, 33);
            entries.TryAdd(Masked(bytes, length), entries.Count);
        }

        var table = new PrefixTable<int>(entries.Select(e => (e.Key, e.Value)));
        Assert.Equal(entries.Count, table.Count);
        var keys = entries.Keys.ToArray();
        for (var i = 0; i < 5_000; i++)
        {
            var bytes = new byte[random.Next(3) == 0 ? 16 : 4];
            random.NextBytes(bytes);
            if (i % 2 == 0)
            {
                // Start inside a stored prefix, then keep only its network bits: a hit at least that long.
                var near = keys[random.Next(keys.Length)];
                bytes = new byte[near.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 4 : 16];
                random.NextBytes(bytes);
                var network = near.Network.GetAddressBytes();
                for (var bit = 0; bit < near.PrefixLength; bit++)
                {
                    var mask = (byte)(0x80 >> (bit % 8));
                    bytes[bit / 8] = (byte)((bytes[bit / 8] & ~mask) | (network[bit / 8] & mask));
                }
            }
            else
            {
                bytes[0] = (byte)(bytes.Length == 16 ? 0xFD : 10);
                bytes[1] = (byte)random.Next(5);
            }

            var expected = keys.Where(k => k.Contains(bytes)).OrderByDescending(k => k.PrefixLength).Select(k => (int?)entries[k]).FirstOrDefault();
            Assert.Equal(expected.HasValue, table.TryLookup(bytes, out var found));
            Assert.Equal(expected ?? 0, found);
        }
    }

    private static IpPrefix Masked(byte[] bytes, int length)
    {
        var network = (byte[])bytes.Clone();
        for (var bit = length; bit < network.Length * 8; bit++)
        {
            network[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IpPrefix(new IPAddress(network), length);
    }
}
