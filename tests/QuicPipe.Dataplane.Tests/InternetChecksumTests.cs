using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests;

public class InternetChecksumTests
{
    [Fact]
    public void Matches_the_example_of_RFC_1071()
    {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, whose complement is 220d.
        Assert.Equal(0x220d, InternetChecksum.Compute([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]));
    }

    [Fact]
    public void Matches_the_reference_on_random_data_of_every_length()
    {
        var random = new Random(791);
        var data = new byte[4200];
        for (var length = 0; length <= data.Length; length += length < 300 ? 1 : 37)
        {
            random.NextBytes(data);
            Assert.Equal(Checksum.Internet(data.AsSpan(0, length)), InternetChecksum.Compute(data.AsSpan(0, length)));

            // Off an odd start too: the vector loads are unaligned.
            Assert.Equal(Checksum.Internet(data.AsSpan(1, length - (length > 0 ? 1 : 0))), InternetChecksum.Compute(data.AsSpan(1, length - (length > 0 ? 1 : 0))));
        }
    }

    [Theory]
    [InlineData(0xFF)]
    [InlineData(0x00)]
    [InlineData(0x80)]
    public void Matches_the_reference_where_carries_pile_up(byte fill)
    {
        // 3 MB is past the point where the 32-bit vector lanes are emptied into the 64-bit total.
        var data = new byte[(3 << 20) + 5];
        Array.Fill(data, fill);
        Assert.Equal(Checksum.Internet(data), InternetChecksum.Compute(data));
    }

    [Fact]
    public void Data_holding_its_checksum_sums_to_zero()
    {
        var random = new Random(1);
        var header = new byte[20];
        random.NextBytes(header);
        header[10] = 0;
        header[11] = 0;
        var checksum = InternetChecksum.Compute(header);
        header[10] = (byte)(checksum >> 8);
        header[11] = (byte)checksum;
        Assert.Equal(0, InternetChecksum.Compute(header));
    }

    [Fact]
    public void A_sum_in_even_chunks_equals_the_whole()
    {
        var random = new Random(2);
        var data = new byte[1501];
        random.NextBytes(data);
        var sum = InternetChecksum.Sum(data.AsSpan(0, 40), 0);
        sum = InternetChecksum.Sum(data.AsSpan(40, 600), sum);
        sum = InternetChecksum.Sum(data.AsSpan(640), sum);
        Assert.Equal(InternetChecksum.Compute(data), InternetChecksum.Finish(sum));
    }
}
