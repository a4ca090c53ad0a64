using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_init(qp_on_handshake_completed, qp_on_stream_open, qp_on_stream_data, qp_on_stream_close, qp_on_stream_reset, qp_on_stream_send_stopped, qp_on_new_cid, qp_on_remove_cid, qp_on_datagram, qp_on_path_validation, qp_on_path_changed);
    [LibraryImport(Name, EntryPoint = "qp_init")]
    internal static unsafe partial int Init(delegate* unmanaged<nint, int> onHandshakeCompleted, delegate* unmanaged<nint, long, int> onStreamOpen, delegate* unmanaged<nint, long, byte*, nuint, int, int> onStreamData, delegate* unmanaged<nint, long, uint, ulong, int> onStreamClose, delegate* unmanaged<nint, long, ulong, int> onStreamReset, delegate* unmanaged<nint, long, int> onStreamSendStopped, delegate* unmanaged<nint, byte*, nuint, byte*, int> onNewCid, delegate* unmanaged<nint, byte*, nuint, int> onRemoveCid, delegate* unmanaged<nint, byte*, nuint, int> onDatagram, delegate* unmanaged<nint, int, byte*, uint, byte*, uint, int> onPathValidation, delegate* unmanaged<nint, byte*, uint, byte*, uint, int> onPathChanged);
}
