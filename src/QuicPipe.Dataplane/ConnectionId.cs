using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace QuicPipe.Dataplane;

/// <summary>
/// A QUIC connection ID of 0 to 20 bytes (RFC 9000 §17.2), held by value so that parsing,
/// hashing and table lookups never allocate.
/// </summary>
public readonly struct ConnectionId : IEquatable<ConnectionId>
{
    /// <summary>The largest connection ID any QUIC version may use (RFC 8999 §5.1).</summary>
    public const int MaxLength = 20;

    private readonly ConnectionIdBytes _bytes;
    private readonly byte _length;

    public ConnectionId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxLength)
        {
            throw new ArgumentException($"A connection ID has at most {MaxLength} bytes; got {bytes.Length}.", nameof(bytes));
        }

        bytes.CopyTo(_bytes);
        _length = (byte)bytes.Length;
    }

    public int Length => _length;

    public bool IsEmpty => _length == 0;

    /// <summary>The ID's bytes. The span points into this value, so keep the value alive while reading it.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Span => ((ReadOnlySpan<byte>)_bytes)[.._length];

    public bool Equals(ConnectionId other)
    {
        // Unused tail bytes are always zero, so comparing the whole fixed buffer is exact and branch-free.
        return _length == other._length &&
            ((ReadOnlySpan<byte>)_bytes).SequenceEqual(other._bytes);
    }

    public override bool Equals(object? obj) => obj is ConnectionId other && Equals(other);

    /// <summary>
    /// A hash mixed with <paramref name="seed"/>. Tables pass a secret random seed because CIDs are
    /// chosen by remote peers, who could otherwise aim many of them at one bucket.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong GetHash(ulong seed)
    {
        ReadOnlySpan<byte> b = _bytes;
        ulong a = BinaryPrimitives.ReadUInt64LittleEndian(b);
        ulong c = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
        ulong d = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]) | ((ulong)_length << 32);
        ulong h = Mix(seed ^ a) + Mix(seed + 0x9E3779B97F4A7C15UL ^ c);
        return Mix(h ^ d ^ seed);
    }

    public override int GetHashCode() => (int)GetHash(0x243F6A8885A308D3UL);

    public static bool operator ==(ConnectionId left, ConnectionId right) => left.Equals(right);

    public static bool operator !=(ConnectionId left, ConnectionId right) => !left.Equals(right);

    /// <summary>Lower-case hex, the form route files and logs use.</summary>
    public override string ToString() => Convert.ToHexStringLower(Span);

    /// <summary>Parses hex (even number of digits, at most 40); an empty string is the empty ID.</summary>
    public static bool TryParseHex(ReadOnlySpan<char> hex, out ConnectionId id)
    {
        id = default;
        if (hex.Length % 2 != 0 || hex.Length > MaxLength * 2)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[MaxLength];
        for (var i = 0; i < hex.Length / 2; i++)
        {
            if (!byte.TryParse(hex.Slice(i * 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }

        id = new ConnectionId(bytes[..(hex.Length / 2)]);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong x)
    {
        // The finaliser of SplitMix64: full avalanche in three multiplies-and-shifts.
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    [InlineArray(MaxLength)]
    private struct ConnectionIdBytes
    {
        private byte _element0;
    }
}
