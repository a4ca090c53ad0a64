using System.Net;
using QuicPipe.Dataplane;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class SourceAddressLimiterTests
{
    private static PeerAddress At(string address, int port = 1000) => PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse(address), port));

    [Fact]
    public void One_address_gets_its_limit_whatever_its_ports()
    {
        var limiter = new SourceAddressLimiter(perAddress: 2, perPrefix: 10);

        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("10.0.0.1", 1)));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("10.0.0.1", 2)));
        Assert.Equal(SourceLimitResult.AddressFull, limiter.TryAcquire(At("10.0.0.1", 3)));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("10.0.0.2", 3)));

        limiter.Release(At("10.0.0.1", 1));
        Assert.Equal(1, limiter.HeldBy(At("10.0.0.1")));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("10.0.0.1", 4)));
    }

    [Fact]
    public void Peek_answers_as_TryAcquire_would_and_takes_nothing()
    {
        var limiter = new SourceAddressLimiter(perAddress: 1, perPrefix: 2);

        Assert.Equal(SourceLimitResult.Acquired, limiter.Peek(At("10.0.0.1")));
        Assert.Equal(0, limiter.HeldBy(At("10.0.0.1")));
        limiter.TryAcquire(At("10.0.0.1"));
        Assert.Equal(SourceLimitResult.AddressFull, limiter.Peek(At("10.0.0.1")));
        limiter.TryAcquire(At("10.0.0.2"));
        Assert.Equal(SourceLimitResult.PrefixFull, limiter.Peek(At("10.0.0.3")));
        Assert.Equal(2, limiter.HeldByPrefix(At("10.0.0.3")));
    }

    [Fact]
    public void A_24_and_a_64_share_their_prefix_limit()
    {
        var limiter = new SourceAddressLimiter(perAddress: 2, perPrefix: 3);

        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("192.0.2.1")));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("192.0.2.2")));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("192.0.2.3")));
        Assert.Equal(SourceLimitResult.PrefixFull, limiter.TryAcquire(At("192.0.2.4")));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("192.0.3.4")));

        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("2001:db8:1:2::1")));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("2001:db8:1:2::2")));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("2001:db8:1:2:ffff::3")));
        Assert.Equal(SourceLimitResult.PrefixFull, limiter.TryAcquire(At("2001:db8:1:2::4")));
        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("2001:db8:1:3::4")));
        Assert.Equal(3, limiter.HeldByPrefix(At("2001:db8:1:2::99")));
    }

    [Fact]
    public void An_IPv4_mapped_address_counts_as_the_IPv4_one()
    {
        var limiter = new SourceAddressLimiter(perAddress: 1, perPrefix: 1);

        Assert.Equal(SourceLimitResult.Acquired, limiter.TryAcquire(At("198.51.100.7")));
        Assert.Equal(SourceLimitResult.AddressFull, limiter.TryAcquire(At("::ffff:198.51.100.7")));
        Assert.Equal(SourceLimitResult.PrefixFull, limiter.TryAcquire(At("::ffff:198.51.100.8")));
    }

    [Fact]
    public void Released_sources_are_forgotten()
    {
        var limiter = new SourceAddressLimiter(perAddress: 4, perPrefix: 4);
        for (var i = 1; i <= 200; i++)
        {
            limiter.TryAcquire(At($"10.1.{i}.1"));
        }

        Assert.Equal(200, limiter.Addresses);
        for (var i = 1; i <= 200; i++)
        {
            limiter.Release(At($"10.1.{i}.1"));
        }

        Assert.Equal(0, limiter.Addresses);
        Assert.Equal(0, limiter.HeldByPrefix(At("10.1.1.1")));
    }
}
