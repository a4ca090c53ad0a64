using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// Addresses as big-endian integers (IPv4 in a <see cref="uint"/>, IPv6 in a <see cref="UInt128"/>), so a prefix
/// test is one AND and one compare, with no <see cref="System.Net.IPAddress"/> in sight.
/// </summary>
internal static class AddressBits
{
    public const int IPv4Length = 4;
    public const int IPv6Length = 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReadIPv4(ReadOnlySpan<byte> address) => BinaryPrimitives.ReadUInt32BigEndian(address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UInt128 ReadIPv6(ReadOnlySpan<byte> address) => BinaryPrimitives.ReadUInt128BigEndian(address);

    /// <summary>The network mask of a /<paramref name="length"/> for a <typeparamref name="T"/>-wide address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Mask<T>(int length)
        where T : unmanaged, IBinaryInteger<T>
    {
        // A shift by the full width is a shift by zero in C#, so /0 needs its own answer.
        return length == 0 ? T.Zero : T.AllBitsSet << ((Unsafe.SizeOf<T>() * 8) - length);
    }
}
