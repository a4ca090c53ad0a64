using System.Buffers.Binary;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// An endless, reproducible stream of pseudo-random bytes from a seed (SplitMix64): cheap enough to generate a
/// gigabyte in well under a second, so large transfers need not hold their payload in memory, and unlike a repeated
/// block, any misplaced chunk changes the hash.
/// </summary>
internal sealed class DeterministicBytes(ulong seed)
{
    private ulong _state = seed;

    /// <summary>Fills <paramref name="destination"/> (a multiple of 8 bytes long) with the next bytes.</summary>
    public void Fill(Span<byte> destination)
    {
        if (destination.Length % sizeof(ulong) != 0)
        {
            throw new ArgumentException("The length must be a multiple of 8.", nameof(destination));
        }

        for (var offset = 0; offset < destination.Length; offset += sizeof(ulong))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[offset..], Next());
        }
    }

    private ulong Next()
    {
        var z = _state += 0x9e3779b97f4a7c15;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
        z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
        return z ^ (z >> 31);
    }
}
