using QuicPipe.Dataplane.Tun;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// A TUN listener's device, as the server publishes it in the listener's features once created: handlers write the
/// packets they receive (from a peer) into it with <see cref="Write"/>, from any thread; the counters say what went
/// through it both ways.
/// </summary>
public sealed class TunTransport
{
    private readonly TunDevice _device;
    private readonly DataplaneCounters _read;
    private long _written;
    private long _writtenBytes;
    private long _writeFailures;
    private long _superPacketsWritten;

    internal TunTransport(TunDevice device, DataplaneCounters read)
    {
        _device = device;
        _read = read;
    }

    /// <summary>The interface name (e.g. qp0).</summary>
    public string Name => _device.Name;

    /// <summary>The device's MTU: the largest IP packet it reads or takes.</summary>
    public int Mtu => _device.Mtu;

    /// <summary>Packets written into the device (handed to the kernel's stack).</summary>
    public long PacketsWritten => Interlocked.Read(ref _written);

    public long BytesWritten => Interlocked.Read(ref _writtenBytes);

    /// <summary>Packets the kernel refused (not a valid IP packet, say): counted, never thrown.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>Whether the device was made with segmentation offloads (<see cref="TunDeviceOptions.Offload"/>).</summary>
    public bool Offload => _device.Offload;

    /// <summary>TCP and UDP super-packets the kernel handed over whole, cut into packets by the listener.</summary>
    public long SuperPacketsRead => Volatile.Read(ref _read.GroBuffers);

    /// <summary>Writes of TCP segments joined by a <see cref="TunPacketWriter"/>.</summary>
    public long SuperPacketsWritten => Interlocked.Read(ref _superPacketsWritten);

    /// <summary>
    /// Hands one IP packet to the kernel as if it arrived on the device. False (and counted) when the kernel refuses
    /// it; the caller has validated it is an IP packet it may deliver.
    /// </summary>
    public bool Write(ReadOnlySpan<byte> packet)
    {
        if (_device.Write(packet) > 0)
        {
            CountWritten(1, packet.Length);
            return true;
        }

        CountWriteFailures(1);
        return false;
    }

    /// <summary>
    /// A writer for one thread that, on a device with offloads, joins a flow's TCP segments into super-packets until
    /// its <see cref="TunPacketWriter.Flush"/>: for handlers that deliver packets in batches.
    /// </summary>
    public TunPacketWriter CreateWriter() => new(this, _device);

    internal void CountWritten(int packets, int bytes)
    {
        Interlocked.Add(ref _written, packets);
        Interlocked.Add(ref _writtenBytes, bytes);
    }

    internal void CountSuperPacketWritten() => Interlocked.Increment(ref _superPacketsWritten);

    internal void CountWriteFailures(int packets) => Interlocked.Add(ref _writeFailures, packets);

    /// <summary>Adds what the reader saw (packets read, written back, dropped by reason) into <paramref name="total"/>.</summary>
    public void CollectCounters(DataplaneCounters total) => _read.AddTo(total);
}
