using System.Security.Cryptography;

namespace QuicPipe.Lab.Tests;

/// <summary>Deterministic pseudo-random bytes written to a peer's stdin, hashed as they go.</summary>
internal sealed class Payload : IDisposable
{
    private const int ChunkSize = 64 * 1024;
    private readonly Random _random;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _chunk = new byte[ChunkSize];

    public Payload(int seed) => _random = new Random(seed);

    public long Written { get; private set; }

    /// <summary>SHA-256 of everything written so far.</summary>
    public byte[] Sha256() => _hash.GetCurrentHash();

    /// <summary>
    /// Writes the next <paramref name="count"/> bytes and flushes them to the process; a process that stops reading
    /// fails this after <paramref name="timeout"/> (the blocked write ends when the lab kills the process).
    /// </summary>
    public Task WriteAsync(Stream stdin, long count, TimeSpan timeout) => WriteAllAsync(stdin, count).WaitAsync(timeout);

    public void Dispose() => _hash.Dispose();

    private async Task WriteAllAsync(Stream stdin, long count)
    {
        while (count > 0)
        {
            var size = (int)Math.Min(count, ChunkSize);
#pragma warning disable CA5394 // Test data, not a secret: a seeded generator makes a failure reproducible.
            _random.NextBytes(_chunk.AsSpan(0, size));
#pragma warning restore CA5394
            _hash.AppendData(_chunk, 0, size);
            await stdin.WriteAsync(_chunk.AsMemory(0, size));
            Written += size;
            count -= size;
        }

        await stdin.FlushAsync();
    }
}
