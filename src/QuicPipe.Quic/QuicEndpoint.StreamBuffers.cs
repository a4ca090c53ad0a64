using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

public sealed partial class QuicEndpoint
{
    // 256 blocks of 16 KiB: a 4 MiB backlog of received or queued bytes across the endpoint's streams is served
    // from reused blocks; beyond it blocks are created and, once returned to a full pool, left to the GC.
    private const int StreamBufferPoolCapacity = 256;

    /// <summary>The blocks behind every stream pipe of this endpoint's connections (see <see cref="StreamBufferPool"/>).</summary>
    internal StreamBufferPool StreamBuffers { get; } = new(StreamBufferPoolCapacity);
}
