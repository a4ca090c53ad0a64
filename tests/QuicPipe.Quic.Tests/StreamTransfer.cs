using System.IO.Pipelines;
using System.Security.Cryptography;

namespace QuicPipe.Quic.Tests;

/// <summary>The loops tests use to move bytes through QUIC streams: one copy each, shared by every test class.</summary>
internal static class StreamTransfer
{
    /// <summary>Reads <paramref name="reader"/> to its end (the peer's FIN), consuming as it goes, and returns every byte.</summary>
    public static async Task<byte[]> ReadToEndAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        using var collected = new MemoryStream();
        await ConsumeToEndAsync(reader, segment => collected.Write(segment.Span), cancellationToken);
        return collected.ToArray();
    }

    /// <summary>Reads <paramref name="reader"/> to its end without keeping the bytes: their SHA-256 and count.</summary>
    public static async Task<(byte[] Sha256, long Length)> HashToEndAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        await ConsumeToEndAsync(
            reader,
            segment =>
            {
                hash.AppendData(segment.Span);
                length += segment.Length;
            },
            cancellationToken);
        return (hash.GetHashAndReset(), length);
    }

    /// <summary>Writes <paramref name="payload"/> in writes of <paramref name="chunk"/> bytes, then FIN.</summary>
    public static async Task WriteAllAsync(QuicStream stream, ReadOnlyMemory<byte> payload, int chunk, CancellationToken cancellationToken)
    {
        for (var offset = 0; offset < payload.Length; offset += chunk)
        {
            await stream.WriteAsync(payload.Slice(offset, Math.Min(chunk, payload.Length - offset)), cancellationToken: cancellationToken);
        }

        await stream.CompleteWritesAsync(cancellationToken);
    }

    /// <summary>Sends back everything <paramref name="stream"/> receives, as it arrives, and FIN after the peer's FIN.</summary>
    public static async Task EchoAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                await stream.WriteAsync(segment, cancellationToken: cancellationToken);
            }

            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await stream.CompleteWritesAsync(cancellationToken);
    }

    private static async Task ConsumeToEndAsync(PipeReader reader, Action<ReadOnlyMemory<byte>> consume, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                consume(segment);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }
}
