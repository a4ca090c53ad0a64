using System.Net;
using QuicPipe.Dataplane;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>Datagrams no connection claims reach the endpoint's hook (hole-punch probes share the socket).</summary>
public class UnroutableHandlerTests
{
    [Fact]
    public async Task Non_QUIC_and_unknown_CID_datagrams_reach_the_hook_with_their_sender_and_a_throwing_hook_is_contained()
    {
        var seen = new List<(byte[] Bytes, PeerAddress Source)>();
        var gate = new SemaphoreSlim(0);
        var options = new QuicEndpointOptions
        {
            Identity = NodeIdentity.Generate(),
            UnroutableDatagramHandler = (datagram, source) =>
            {
                lock (seen)
                {
                    seen.Add((datagram.ToArray(), source));
                }

                gate.Release();
                if (datagram[0] == 0xee)
                {
                    throw new InvalidOperationException("a buggy hook");
                }
            },
        };
        await using var endpoint = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options);
        using var sender = LoopbackUdp.Bind();

        var probe = "punch"u8.ToArray();
        var shortHeader = new byte[40];
        shortHeader[0] = 0x40;
        await sender.SendToAsync(new byte[] { 0xee, 1, 2 }, endpoint.LocalEndPoint);
        await sender.SendToAsync(probe, endpoint.LocalEndPoint);
        await sender.SendToAsync(shortHeader, endpoint.LocalEndPoint);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(await gate.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        lock (seen)
        {
            Assert.Contains(seen, s => s.Bytes.AsSpan().SequenceEqual(probe) && s.Source.ToEndPoint().Equals(sender.LocalEndPoint));
            Assert.Contains(seen, s => s.Bytes.Length == shortHeader.Length && s.Bytes[0] == 0x40);
        }

        Assert.Equal(3, endpoint.UnroutableDatagrams);
    }
}
