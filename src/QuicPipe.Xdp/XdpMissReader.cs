using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane;
using QuicPipe.Interop;
using QuicPipe.Xdp.Internal;
using QuicPipe.Xdp.Interop;

namespace QuicPipe.Xdp;

/// <summary>
/// Drains the program's miss ring buffer on a dedicated thread and hands each event to a callback
/// (on that thread). Dispose stops the thread within one poll interval.
/// </summary>
public sealed class XdpMissReader : IDisposable
{
    private const int PollTimeoutMs = 100;

    private readonly XdpProgram _program;
    private readonly Action<XdpMissEvent> _onMiss;
    private readonly SafeRingBufferHandle _ringBuffer;
    private readonly Thread _thread;
    private GCHandle _self;
    private volatile bool _stopping;
    private long _delivered;

    internal unsafe XdpMissReader(XdpProgram program, int eventsFd, Action<XdpMissEvent> onMiss)
    {
        _program = program;
        _onMiss = onMiss;
        _self = GCHandle.Alloc(this);
        _ringBuffer = LibBpf.RingBufferNew(eventsFd, &OnSample, GCHandle.ToIntPtr(_self), 0);
        if (_ringBuffer.IsInvalid)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ringBuffer.Dispose();
            _self.Free();
            throw new XdpException("ring_buffer__new(qp_events)", errno);
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "xdp-miss-reader" };
        _thread.Start();
    }

    /// <summary>Events handed to the callback so far.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>The first exception the callback threw, or the poll error that stopped the thread.</summary>
    public Exception? Fault { get; private set; }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _thread.Join();
        _ringBuffer.Dispose();
        _self.Free();
        _program.Forget(this);
    }

    private void Run()
    {
        while (!_stopping)
        {
            var rc = LibBpf.RingBufferPoll(_ringBuffer, PollTimeoutMs);
            if (rc < 0 && rc != -Errno.EINTR)
            {
                Fault ??= new XdpException("ring_buffer__poll(qp_events)", -rc);
                return;
            }
        }
    }

    [UnmanagedCallersOnly]
    private static unsafe int OnSample(nint context, byte* data, nuint size)
    {
        var reader = (XdpMissReader)GCHandle.FromIntPtr(context).Target!;
        if (size < (nuint)sizeof(MissEventRecord))
        {
            return 0; // not ours: skip rather than stop the drain
        }

        var record = Unsafe.ReadUnaligned<MissEventRecord>(data);
        var cidLength = Math.Min((int)record.CidLength, ConnectionId.MaxLength);
        var cid = new ConnectionId(((ReadOnlySpan<byte>)record.Cid)[..cidLength]);
        var source = AddressCodec.ToPeerAddress(record.Family, record.SourceAddress, record.SourcePortBigEndian);
        var relayPort = BinaryPrimitives.ReverseEndianness(record.DestinationPortBigEndian);
        try
        {
            reader._onMiss(new XdpMissEvent(cid, source, (int)record.InterfaceIndex, relayPort));
            Interlocked.Increment(ref reader._delivered);
        }
#pragma warning disable CA1031 // An exception must not unwind into libbpf's native frames; it is kept for the owner.
        catch (Exception e)
#pragma warning restore CA1031
        {
            reader.Fault ??= e;
        }

        return 0;
    }
}
