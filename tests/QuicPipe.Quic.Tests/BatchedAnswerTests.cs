using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// The loop answers once per received batch (QuicEndpoint.ReceivedBatch): a receiver that wrote after every packet
/// would acknowledge every second packet of a bulk transfer (QUIC's immediate-ACK threshold is 2).
/// </summary>
public class BatchedAnswerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_bulk_download_is_acknowledged_per_received_batch_not_every_second_packet_and_arrives_intact()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);

        var request = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await request.WriteAsync(new byte[] { 1 }, endStream: true, timeout.Token);
        var answer = await server.AcceptStreamAsync(timeout.Token);
        var sending = StreamTransfer.WriteAllAsync(answer, payload, 64 * 1024, timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(request.Input, timeout.Token);
        await sending;
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));

        var sent = await server.GetStatsAsync(timeout.Token);
        var acknowledgements = await client.GetStatsAsync(timeout.Token);

        // About 12,000 data packets. Answering per packet gives one ACK per two (about 6,000); per batch it measured
        // one per 25 to 40. A quarter leaves room for a loop that on a loaded machine gets small batches.
        Assert.True(sent.PacketsSent > 10_000, $"{sent.PacketsSent} packets sent for 16 MiB");
        Assert.True(
            acknowledgements.PacketsSent * 4 < sent.PacketsSent,
            $"the receiver sent {acknowledgements.PacketsSent} packets for {sent.PacketsSent} data packets");
    }
}
