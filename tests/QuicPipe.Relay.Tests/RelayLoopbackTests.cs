using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane;
using Xunit;

namespace QuicPipe.Relay.Tests;

/// <summary>The whole relay on loopback: real sockets, real routes file, real forwarding.</summary>
public sealed class RelayLoopbackTests : IDisposable
{
    private readonly string _routesPath = Path.Combine(Path.GetTempPath(), $"quicpipe-routes-{Guid.NewGuid():N}.txt");

    public void Dispose() => File.Delete(_routesPath);

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("::1", true)]
    [InlineData("::1", false)]
    public void Ten_thousand_CIDs_reach_the_right_sink_byte_exact(string ip, bool offloads)
    {
        const int cids = 10_000;
        const int run = 64;
        var address = IPAddress.Parse(ip);
        var sinks = Enumerable.Range(0, 4).Select(_ => new UdpSink(address)).ToArray();
        try
        {
            // Runs of 64 consecutive CIDs share a sink and a length, so that with offloads on, the
            // sender's GSO bursts arrive coalesced (GRO) and leave as GSO sends: the whole offload path.
            int SinkOf(int i) => i / run % sinks.Length;
            File.WriteAllLines(_routesPath, Enumerable.Range(0, cids).Select(i => $"{RelayForwardingStageTests.Cid(i)} {Format(sinks[SinkOf(i)].EndPoint)}"));
            using var relay = StartRelay(address, offloads);
            using var sender = UdpBatchSocket.Bind(PeerAddress.FromEndPoint(new IPEndPoint(address, 0)), new UdpSocketOptions { EnableGso = offloads, EnableGro = false });
            var relayAddress = relay.LocalAddresses[0];
            var batch = new PacketBatch(run);
            var senderCounters = new DataplaneCounters();

            var expected = new Dictionary<string, int>();
            const int chunk = 8 * run;
            for (var start = 0; start < cids; start += chunk)
            {
                for (var first = start; first < Math.Min(start + chunk, cids); first += run)
                {
                    batch.Clear();
                    for (var i = first; i < Math.Min(first + run, cids); i++)
                    {
                        var packet = RelayForwardingStageTests.ShortPacket(RelayForwardingStageTests.Cid(i), 60 + (i / run % 3 * 100));
                        BitConverter.TryWriteBytes(packet.AsSpan(13), i);
                        expected[Convert.ToHexString(packet)] = SinkOf(i);
                        batch.Forward(batch.Add(packet, default), relayAddress);
                    }

                    sender.Send(batch, senderCounters);
                }

                // Pace by what arrived, so the test measures correctness, not socket buffer sizes.
                var sent = Math.Min(start + chunk, cids);
                Assert.True(WaitForTotal(sinks, sent, TimeSpan.FromSeconds(10)), $"only {sinks.Sum(s => s.Received.Count)} of {sent} datagrams arrived");
            }

            for (var s = 0; s < sinks.Length; s++)
            {
                foreach (var datagram in sinks[s].Received)
                {
                    Assert.True(expected.Remove(Convert.ToHexString(datagram), out var sink), "a datagram arrived that was never sent, or arrived twice");
                    Assert.Equal(sink, s);
                }
            }

            Assert.Empty(expected);
            var stats = relay.Snapshot();
            Assert.Equal(cids, stats.Packets.Forwarded);
            Assert.Equal(0, stats.Packets.DroppedTotal);
            if (!offloads)
            {
                Assert.Equal(0, stats.Packets.GsoSends);
                Assert.Equal(0, stats.Packets.GroBuffers);
            }
            else if (relay.GsoActive && relay.GroActive && sender.GsoActive)
            {
                Assert.True(stats.Packets.GroBuffers > 0, "GRO was active but nothing arrived coalesced");
                Assert.True(stats.Packets.GsoSegments > 0, "GSO was active but no send used it");
            }
        }
        finally
        {
            foreach (var sink in sinks)
            {
                sink.Dispose();
            }
        }
    }

    [Fact]
    public void Unknown_and_reflected_packets_are_dropped_and_counted()
    {
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        sender.ReceiveTimeout = 300;
        File.WriteAllLines(_routesPath, [$"{RelayForwardingStageTests.Cid(1)} {Format((IPEndPoint)sender.LocalEndPoint!)}"]);
        using var relay = StartRelay(IPAddress.Loopback, gso: true);
        var relayEndPoint = relay.LocalAddresses[0].ToEndPoint();

        sender.SendTo(RelayForwardingStageTests.ShortPacket(RelayForwardingStageTests.Cid(1)), relayEndPoint);
        sender.SendTo(RelayForwardingStageTests.ShortPacket(RelayForwardingStageTests.Cid(2)), relayEndPoint);
        sender.SendTo(new byte[] { 0x40, 1 }, relayEndPoint);

        Assert.True(SpinWait.SpinUntil(() => relay.Snapshot().Packets.DroppedTotal == 3, TimeSpan.FromSeconds(5)));
        var stats = relay.Snapshot().Packets;
        Assert.Equal(1, stats.Dropped[(int)DropReason.Reflection]);
        Assert.Equal(1, stats.Dropped[(int)DropReason.UnknownCid]);
        Assert.Equal(1, stats.Dropped[(int)DropReason.Truncated]);
        Assert.Equal(0, stats.Forwarded);
        Assert.Throws<SocketException>(() => sender.Receive(new byte[2048]));
    }

    [Fact]
    public void Reloading_routes_moves_traffic_and_a_bad_file_keeps_the_old_routes()
    {
        using var first = new UdpSink(IPAddress.Loopback);
        using var second = new UdpSink(IPAddress.Loopback);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var cid = RelayForwardingStageTests.Cid(42);
        var gone = RelayForwardingStageTests.Cid(43);
        File.WriteAllLines(_routesPath, [$"{cid} {Format(first.EndPoint)}", $"{gone} {Format(first.EndPoint)}"]);
        using var relay = StartRelay(IPAddress.Loopback, gso: true);
        var relayEndPoint = relay.LocalAddresses[0].ToEndPoint();

        File.WriteAllLines(_routesPath, [$"{cid} {Format(second.EndPoint)}"]);
        Assert.Equal(1, relay.ReloadRoutes());
        sender.SendTo(RelayForwardingStageTests.ShortPacket(cid), relayEndPoint);
        sender.SendTo(RelayForwardingStageTests.ShortPacket(gone), relayEndPoint);
        Assert.True(second.WaitFor(1, TimeSpan.FromSeconds(5)));
        Assert.True(SpinWait.SpinUntil(() => relay.Snapshot().Packets.Dropped[(int)DropReason.UnknownCid] == 1, TimeSpan.FromSeconds(5)));

        File.WriteAllLines(_routesPath, [$"{cid} {Format(first.EndPoint)}", "not-hex 127.0.0.1:1"]);
        var e = Assert.Throws<RouteFileException>(() => relay.ReloadRoutes());
        Assert.Contains($"{_routesPath}:2:", e.Message, StringComparison.Ordinal);
        sender.SendTo(RelayForwardingStageTests.ShortPacket(cid), relayEndPoint);
        Assert.True(second.WaitFor(2, TimeSpan.FromSeconds(5)), "the old route should still be in force");
        Assert.Empty(first.Received);
    }

    [Fact]
    public void A_route_to_the_relay_itself_is_refused()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        probe.Dispose();
        File.WriteAllLines(_routesPath, [$"{RelayForwardingStageTests.Cid(1)} 127.0.0.1:{port}"]);
        var options = new RelayServerOptions { RoutesFile = _routesPath, Threads = 1 };
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Any, port)));
        using var relay = new RelayServer(options);

        var e = Assert.Throws<RouteFileException>(relay.Start);
        Assert.Contains("this relay's own address", e.Message, StringComparison.Ordinal);
    }

    private RelayServer StartRelay(IPAddress address, bool gso)
    {
        var options = new RelayServerOptions
        {
            RoutesFile = _routesPath,
            Threads = 2,
            Socket = new UdpSocketOptions { EnableGso = gso, EnableGro = gso },
        };
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(address, 0)));
        var relay = new RelayServer(options);
        relay.Start();
        return relay;
    }

    private static bool WaitForTotal(UdpSink[] sinks, int count, TimeSpan timeout) =>
        SpinWait.SpinUntil(() => sinks.Sum(s => s.Received.Count) >= count, timeout);

    private static string Format(IPEndPoint endPoint) => endPoint.AddressFamily == AddressFamily.InterNetworkV6
        ? $"[{endPoint.Address}]:{endPoint.Port}"
        : endPoint.ToString();
}
