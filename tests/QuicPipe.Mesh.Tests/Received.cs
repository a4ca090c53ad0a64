using QuicPipe.Quic;

namespace QuicPipe.Mesh.Tests;

/// <summary>Reads a stream to its end, counting as it goes (the count is read from the test's thread).</summary>
internal sealed class Received
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    /// <summary>The whole stream, when nobody watches the count.</summary>
    public static Task<byte[]> AllAsync(QuicStream stream, CancellationToken cancellationToken) => new Received().ReadAllAsync(stream, cancellationToken);

    public async Task<byte[]> ReadAllAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                buffer.Write(segment.Span);
            }

            Interlocked.Add(ref _count, result.Buffer.Length);
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return buffer.ToArray();
            }
        }
    }
}
