using QuicPipe.Quic.Internal;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class StreamBufferPoolTests
{
    [Fact]
    public void A_returned_block_is_the_next_one_rented()
    {
        var pool = new StreamBufferPool(capacity: 4);
        var first = pool.Rent();
        var memory = first.Memory;
        first.Dispose();

        var second = pool.Rent(StreamBufferPool.BlockSize);

        Assert.True(second.Memory.Span == memory.Span, "the pool handed out a new block instead of the returned one");
        Assert.Equal(StreamBufferPool.BlockSize, second.Memory.Length);
        Assert.Equal((2, 1), (pool.Rents, pool.Created));
    }

    [Fact]
    public void The_pool_keeps_at_most_its_capacity_of_free_blocks()
    {
        var pool = new StreamBufferPool(capacity: 4);
        var blocks = Enumerable.Range(0, 10).Select(_ => pool.Rent()).ToList();
        blocks.ForEach(b => b.Dispose());

        Assert.Equal(4, pool.Free);

        // The four kept are reused; the fifth rent creates a block again.
        var again = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        Assert.Equal(11, pool.Created);
        Assert.Equal(0, pool.Free);
        again.ForEach(b => b.Dispose());
    }

    [Fact]
    public void A_block_disposed_twice_is_handed_out_once()
    {
        var pool = new StreamBufferPool(capacity: 4);
        var block = pool.Rent();
        block.Dispose();
        block.Dispose();
        Assert.Equal(1, pool.Free);

        var a = pool.Rent();
        var b = pool.Rent();

        Assert.False(a.Memory.Span == b.Memory.Span, "one block was handed out twice");
        Assert.Equal(2, pool.Created);
    }

    [Fact]
    public void A_rent_larger_than_a_block_is_refused()
    {
        var pool = new StreamBufferPool(capacity: 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(StreamBufferPool.BlockSize + 1));
    }
}
