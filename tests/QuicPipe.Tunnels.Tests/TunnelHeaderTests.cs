using System.Buffers;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

public class TunnelHeaderTests
{
    [Fact]
    public void A_header_without_host_is_four_bytes_version_port_big_endian_and_zero_length()
    {
        Assert.Equal(new byte[] { 0x01, 0x1f, 0x90, 0x00 }, new TunnelHeader(8080).ToArray());
    }

    [Fact]
    public void A_header_with_host_round_trips_and_leaves_the_following_bytes_unconsumed()
    {
        var bytes = new TunnelHeader(443, "db.internal").ToArray().Concat(new byte[] { 9, 9 }).ToArray();
        Assert.Equal(TunnelHeaderParseResult.Complete, TunnelHeader.TryParse(new ReadOnlySequence<byte>(bytes), out var header, out var consumed));
        Assert.Equal(443, header.Port);
        Assert.Equal("db.internal", header.Host);
        Assert.Equal(bytes.Length - 2, new ReadOnlySequence<byte>(bytes).Slice(0, consumed).Length);
    }

    [Fact]
    public void Every_proper_prefix_is_incomplete_and_never_throws()
    {
        var bytes = new TunnelHeader(22, "host-1").ToArray();
        for (var n = 0; n < bytes.Length; n++)
        {
            Assert.Equal(TunnelHeaderParseResult.Incomplete, TunnelHeader.TryParse(new ReadOnlySequence<byte>(bytes, 0, n), out _, out _));
        }
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var random = new Random(7);
        for (var i = 0; i < 10_000; i++)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            _ = TunnelHeader.TryParse(new ReadOnlySequence<byte>(bytes), out _, out _);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0x00, 0x50, 0x00 }, TunnelHeaderParseResult.UnknownVersion)]
    [InlineData(new byte[] { 0x01, 0x00, 0x00, 0x00 }, TunnelHeaderParseResult.Invalid)]
    [InlineData(new byte[] { 0x01, 0x00, 0x50, 0x01, (byte)' ' }, TunnelHeaderParseResult.Invalid)]
    public void Bad_fields_are_reported(byte[] bytes, TunnelHeaderParseResult expected)
    {
        Assert.Equal(expected, TunnelHeader.TryParse(new ReadOnlySequence<byte>(bytes), out _, out _));
    }

    [Fact]
    public void Constructing_an_unencodable_header_throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelHeader(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelHeader(70000));
        Assert.Throws<ArgumentException>(() => new TunnelHeader(80, new string('a', 256)));
        Assert.Throws<ArgumentException>(() => new TunnelHeader(80, "a b"));
    }
}
