using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    /// <summary>QP_ERR_INITIAL_HEADER: not a QUIC v1 client Initial that can be checked.</summary>
    internal const int ErrorInitialHeader = -1006;

    /// <summary>QP_ERR_INITIAL_DECRYPT: the Initial does not decrypt with the keys of its DCID.</summary>
    internal const int ErrorInitialDecrypt = -1007;

    // int qp_initial_check(const uint8_t *pkt, size_t pktlen, size_t *token_offset, size_t *tokenlen);
    [LibraryImport(Name, EntryPoint = "qp_initial_check")]
    internal static unsafe partial int InitialCheck(byte* packet, nuint packetLength, out nuint tokenOffset, out nuint tokenLength);
}
