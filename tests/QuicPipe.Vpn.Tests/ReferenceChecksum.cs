using QuicPipe.Lab;

namespace QuicPipe.Vpn.Tests;

/// <summary>ICMPv6's checksum from scratch, over the test's own RFC 1071 (<see cref="Checksum.Internet"/>).</summary>
internal static class ReferenceChecksum
{
    /// <summary>ICMPv6's checksum: over the pseudo-header (source, destination, length, next header 58), then the message.</summary>
    public static ushort IcmpV6(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> message)
    {
        var all = new byte[40 + message.Length];
        source.CopyTo(all);
        destination.CopyTo(all.AsSpan(16));
        all[32] = (byte)(message.Length >> 24);
        all[33] = (byte)(message.Length >> 16);
        all[34] = (byte)(message.Length >> 8);
        all[35] = (byte)message.Length;
        all[39] = 58;
        message.CopyTo(all.AsSpan(40));
        return Checksum.Internet(all);
    }
}
