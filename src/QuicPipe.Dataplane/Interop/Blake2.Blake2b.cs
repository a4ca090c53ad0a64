using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

internal static partial class Blake2
{
    // libb2 0.98 (blake2.h): int blake2b(uint8_t *out, const void *in, const void *key,
    //                                    size_t outlen, size_t inlen, size_t keylen);
    // Note the order: the three pointers first, then the three lengths (not the RFC 7693 order).
    // Returns 0 on success, -1 on bad lengths (outlen 1..64, keylen 0..64).
    [LibraryImport(Name, EntryPoint = "blake2b")]
    internal static unsafe partial int Blake2b(byte* output, byte* input, byte* key, nuint outputLength, nuint inputLength, nuint keyLength);
}
