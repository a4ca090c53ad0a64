using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>A stream's worth of random bytes out and back: the two connections carry data both ways, intact.</summary>
internal static class Echo
{
    public static async Task AssertAsync(QuicConnection client, QuicConnection server, int size, CancellationToken cancellationToken)
    {
        var payload = RandomNumberGenerator.GetBytes(size);
        var outgoing = await client.OpenBidirectionalStreamAsync(cancellationToken);

        // Writes run alongside the reads: a payload larger than the flow-control windows would otherwise stall.
        var sending = outgoing.WriteAsync(payload, endStream: true, cancellationToken);
        var incoming = await server.AcceptStreamAsync(cancellationToken);
        var received = await ReadAllAsync(incoming, cancellationToken);
        await sending;
        var echoing = incoming.WriteAsync(received, endStream: true, cancellationToken);
        var echoed = await ReadAllAsync(outgoing, cancellationToken);
        await echoing;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(echoed));
    }

    public static async Task<byte[]> ReadAllAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                buffer.Write(segment.Span);
            }

            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return buffer.ToArray();
            }
        }
    }
}
