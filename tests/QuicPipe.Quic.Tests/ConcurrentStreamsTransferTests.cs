using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Quic.Tests;

[Collection(StressCollection.Name)]
public class ConcurrentStreamsTransferTests(ITestOutputHelper output)
{
    private const int Streams = 64;
    private const int BytesPerStream = 16 * 1024 * 1024;
    private const int WriteSize = 64 * 1024;

    // Measured 14-40 s on the shared 2-core machine, and 74 s once at load 26: the bound catches a stall, not a
    // slow run, so it leaves room for a busy machine.
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task One_GiB_over_64_concurrent_streams_arrives_intact_on_every_stream()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var clock = Stopwatch.StartNew();

        var receiving = Task.WhenAll(Enumerable.Range(0, Streams).Select(_ => Task.Run(() => ReceiveOneAsync(server, timeout.Token))));
        var sent = await Task.WhenAll(Enumerable.Range(0, Streams).Select(i => Task.Run(() => SendOneAsync(client, (ulong)i, timeout.Token))));
        var received = await receiving;
        clock.Stop();

        // Every stream carried its own data (distinct seeds), and each arrived whole on the stream it was sent on.
        Assert.Equal(Streams, sent.Select(s => Convert.ToHexString(s.Sha256)).Distinct().Count());
        var sentOn = sent.ToDictionary(s => s.StreamId, s => s.Sha256);
        Assert.Equal(sentOn.Keys.Order(), received.Select(r => r.StreamId).Order());
        Assert.All(received, r =>
        {
            Assert.Equal(BytesPerStream, r.Length);
            Assert.Equal(sentOn[r.StreamId], r.Sha256);
        });
        const double MiB = Streams * (BytesPerStream / (1024.0 * 1024));
        output.WriteLine($"{MiB:0} MiB over {Streams} streams in {clock.Elapsed.TotalSeconds:0.0} s: {MiB / clock.Elapsed.TotalSeconds:0} MiB/s");
    }

    /// <summary>Opens a stream and sends <see cref="BytesPerStream"/> bytes generated from <paramref name="seed"/>, then FIN.</summary>
    private static async Task<(long StreamId, byte[] Sha256)> SendOneAsync(QuicConnection connection, ulong seed, CancellationToken cancellationToken)
    {
        var stream = await connection.OpenBidirectionalStreamAsync(cancellationToken);
        var data = new DeterministicBytes(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        // One buffer, refilled after each write: a write completes once the engine has copied the bytes.
        var buffer = new byte[WriteSize];
        for (var sent = 0; sent < BytesPerStream; sent += WriteSize)
        {
            data.Fill(buffer);
            hash.AppendData(buffer);
            await stream.WriteAsync(buffer, cancellationToken: cancellationToken);
        }

        await stream.CompleteWritesAsync(cancellationToken);
        return (stream.Id, hash.GetHashAndReset());
    }

    private static async Task<(long StreamId, byte[] Sha256, long Length)> ReceiveOneAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        var stream = await connection.AcceptStreamAsync(cancellationToken);
        var (sha256, length) = await StreamTransfer.HashToEndAsync(stream.Input, cancellationToken);
        return (stream.Id, sha256, length);
    }
}
