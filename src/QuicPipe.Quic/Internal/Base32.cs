namespace QuicPipe.Quic.Internal;

/// <summary>RFC 4648 base32 (alphabet a-z2-7), lower case, without padding: the printable form of a NodeId.</summary>
internal static class Base32
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string Encode(ReadOnlySpan<byte> data)
    {
        var chars = new char[(data.Length * 8 + 4) / 5];
        int buffer = 0, bits = 0, index = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[index++] = Alphabet[(buffer >> bits) & 31];
            }
        }

        if (bits > 0)
        {
            chars[index++] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, index);
    }

    /// <summary>Decodes exactly <paramref name="output"/>.Length bytes; case-insensitive; false on anything else.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> output)
    {
        if (text.Length != (output.Length * 8 + 4) / 5)
        {
            return false;
        }

        int buffer = 0, bits = 0, index = 0;
        foreach (var c in text)
        {
            var value = c switch
            {
                >= 'a' and <= 'z' => c - 'a',
                >= 'A' and <= 'Z' => c - 'A',
                >= '2' and <= '7' => c - '2' + 26,
                _ => -1,
            };
            if (value < 0)
            {
                return false;
            }

            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                output[index++] = (byte)(buffer >> bits);
            }
        }

        // The unused low bits of the last character must be zero, so every NodeId has one spelling.
        return (buffer & ((1 << bits) - 1)) == 0;
    }
}
