using Xunit;

namespace QuicPipe.Dataplane.Tests;

public class CidDerivationTests
{
    private static readonly byte[] Key = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();

    [Fact]
    public void The_design_vector_holds_in_both_namespaces()
    {
        Assert.Equal("ab5c2c4c9385fb1b29934723", CidDerivation.Derive(Key, 1, 12, CidNamespace.Relay).ToString());
        Assert.Equal("2b5c2c4c9385fb1b29934723", CidDerivation.Derive(Key, 1).ToString());
    }

    // Expected values from an independent BLAKE2b (Python's hashlib.blake2b with digest_size = length).
    [Theory]
    [InlineData(2u, 12, "c48d3e851ea76b693aaa05aa")]
    [InlineData(1u, 8, "17548b30e96a5270")]
    [InlineData(1u, 20, "e2b5dbf4d7dad1f30c9fbc5fa22adebf383616fe")]
    [InlineData(uint.MaxValue, 12, "5b0579b6f85c73c84f715623")]
    public void Digest_length_is_the_CID_length_not_a_truncation(uint counter, int length, string blake2b)
    {
        var cid = CidDerivation.Derive(Key, counter, length, CidNamespace.Relay);

        var expected = Convert.FromHexString(blake2b);
        expected[0] |= 0x80;
        Assert.Equal(Convert.ToHexStringLower(expected), cid.ToString());
        Assert.Equal(length, cid.Length);
    }

    [Fact]
    public void A_longer_key_is_used_whole()
    {
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        Assert.Equal("e1ee2d35559ff53881b11cf5", CidDerivation.Derive(key, 7, 12, CidNamespace.Relay).ToString());
    }

    [Fact]
    public void The_namespace_bit_is_read_back()
    {
        Assert.Equal(CidNamespace.Relay, CidDerivation.NamespaceOf(CidDerivation.Derive(Key, 3, 12, CidNamespace.Relay)));
        Assert.Equal(CidNamespace.PeerToPeer, CidDerivation.NamespaceOf(CidDerivation.Derive(Key, 3)));
        Assert.Equal(CidNamespace.PeerToPeer, CidDerivation.NamespaceOf(default));
    }

    [Fact]
    public void Bad_keys_and_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => CidDerivation.Derive(new byte[15], 1));
        Assert.Throws<ArgumentException>(() => CidDerivation.Derive(new byte[65], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => CidDerivation.Derive(Key, 1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => CidDerivation.Derive(Key, 1, 21));
    }
}
