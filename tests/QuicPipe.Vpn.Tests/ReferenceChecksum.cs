namespace QuicPipe.Vpn.Tests;

/// <summary>RFC 1071 as written: big-endian 16-bit words, an odd byte padded with zero, carries folded, complemented.</summary>
internal static class ReferenceChecksum
{
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        long sum = 0;
        for (var i = 0; i < data.Length; i += 2)
        {
            var high = data[i];
            var low = i + 1 < data.Length ? data[i + 1] : (byte)0;
            sum += (high << 8) | low;
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

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
        return Compute(all);
    }
}
