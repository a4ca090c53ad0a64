using QuicPipe.Dataplane.Tun;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// Writes IP packets into a TUN listener's device for one thread (a QUIC loop delivering a peer's DATAGRAMs): on a
/// device with offloads, consecutive segments of a TCP flow are joined into one super-packet until
/// <see cref="Flush"/>, which the owner calls at the end of each batch of arrivals; otherwise every packet is written
/// at once. Made by <see cref="TunTransport.CreateWriter"/>; what it writes counts in the transport's counters and
/// in its own (read by the owner, to know what its packets became).
/// </summary>
public sealed class TunPacketWriter : ITunFrameOutput
{
    private readonly TunTransport _transport;
    private readonly TunDevice _device;
    private readonly TcpSegmentCoalescer? _coalescer;

    internal TunPacketWriter(TunTransport transport, TunDevice device)
    {
        _transport = transport;
        _device = device;
        _coalescer = device.Offload ? new TcpSegmentCoalescer(this) : null;
    }

    /// <summary>IP packets the kernel took from this writer (a super-packet counts as its segments).</summary>
    public long PacketsWritten { get; private set; }

    /// <summary>The bytes of those packets.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>IP packets the kernel refused, or that could not be written because the device is gone.</summary>
    public long WriteFailures { get; private set; }

    /// <summary>Writes of joined segments; <see cref="PacketsWritten"/> over this is the average run.</summary>
    public long SuperPacketsWritten { get; private set; }

    /// <summary>Takes one IP packet (validated by the caller); it may be held until <see cref="Flush"/>.</summary>
    public void Write(ReadOnlySpan<byte> packet)
    {
        if (_coalescer is null)
        {
            WritePacket(packet);
        }
        else
        {
            _coalescer.Add(packet);
        }
    }

    /// <summary>Writes what is held. Call it at the end of every batch, or packets wait for the next one.</summary>
    public void Flush() => _coalescer?.Flush();

    void ITunFrameOutput.WritePacket(ReadOnlySpan<byte> packet) => WritePacket(packet);

    void ITunFrameOutput.WriteSuperPacket(ReadOnlySpan<byte> frame, int segments, int packetBytes)
    {
        if (TryWrite(frame, isFrame: true))
        {
            SuperPacketsWritten++;
            _transport.CountSuperPacketWritten();
            Counted(segments, packetBytes);
        }
        else
        {
            Failed(segments);
        }
    }

    private void WritePacket(ReadOnlySpan<byte> packet)
    {
        if (TryWrite(packet, isFrame: false))
        {
            Counted(1, packet.Length);
        }
        else
        {
            Failed(1);
        }
    }

    private bool TryWrite(ReadOnlySpan<byte> data, bool isFrame)
    {
        try
        {
            return (isFrame ? _device.WriteFrame(data, out _) : _device.Write(data)) > 0;
        }
        catch (Exception e) when (e is ObjectDisposedException or TunDeviceException)
        {
            // The listener is stopping, or someone deleted the device: a lost packet, never a failed connection.
            return false;
        }
    }

    private void Counted(int packets, int bytes)
    {
        PacketsWritten += packets;
        BytesWritten += bytes;
        _transport.CountWritten(packets, bytes);
    }

    private void Failed(int packets)
    {
        WriteFailures += packets;
        _transport.CountWriteFailures(packets);
    }
}
