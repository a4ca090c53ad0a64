using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    /// <summary>Mirrors <c>qp_conn_config</c>: only 64-bit fields, so sequential layout matches C with no padding.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ConnConfig
    {
        public ulong IdleTimeoutNs;
        public ulong HandshakeTimeoutNs;
        public ulong StreamWindow;
        public ulong MaxStreamWindow;
        public ulong ConnectionWindow;
        public ulong MaxConnectionWindow;
        public ulong KeepAliveNs;
        public ulong MaxDatagramFrameSize;
        public ulong CongestionControl;
    }

    // size_t qp_conn_config_size(void);
    [LibraryImport(Name, EntryPoint = "qp_conn_config_size")]
    internal static partial nuint ConnConfigSize();
}
