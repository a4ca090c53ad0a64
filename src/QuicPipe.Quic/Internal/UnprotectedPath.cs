using System.Buffers.Binary;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// A connection's unprotected datagrams (<see cref="QuicConnection.TrySendUnprotectedDatagram"/>): where they go (the
/// current path's remote address, under the CID the connection sends to now, read after each flush on the loop
/// thread and published whole for senders on other threads), how they are told from QUIC packets, and what was
/// refused.
/// </summary>
/// <remarks>
/// On the wire: a short header's first byte (0x40), the DCID, an 8-byte tag, the payload. To a relay, which routes by
/// DCID, it is a short-header packet. The receiving endpoint tells it from the connection's QUIC packets by the tag,
/// which both ends derive from the TLS exporter: the fixed bit cannot tell them apart, since ngtcp2 announces that
/// it may be greased (RFC 9287) and its peers do grease it. A QUIC packet's protected bytes match the tag once in
/// 2^64 (that packet is then lost, and QUIC sends its data again); nobody who has not seen the connection's
/// traffic can make one.
/// </remarks>
internal sealed class UnprotectedPath
{
    public const int TagLength = 8;

    private const byte FirstByte = 0x40;
    private const string TagExporterLabel = "EXPORTER-quicpipe-unprotected";

    private volatile IQuicUnprotectedDatagramReceiver? _receiver;
    private volatile Target? _target;
    private volatile bool _inUse;

    // Loop thread: the tag, once the handshake's exporter gave it (0 before: nothing is taken or sent).
    private ulong _tag;
    private long _sent;
    private long _refused;

    public IQuicUnprotectedDatagramReceiver? Receiver
    {
        get => _receiver;
        set => _receiver = value;
    }

    /// <summary>Whether the path is tracked (a receiver was set once): the loop looks for these datagrams and keeps the target fresh only then.</summary>
    public bool InUse => _inUse;

    /// <summary>Any thread: the header and address a datagram goes out with now, or null before the path was first read.</summary>
    public Target? Current => _target;

    public long Sent => Interlocked.Read(ref _sent);

    public long Refused => Interlocked.Read(ref _refused);

    public void Track() => _inUse = true;

    /// <summary>Loop thread: whether <paramref name="datagram"/>, for this connection under a CID of <paramref name="dcidLength"/> bytes, is one of these rather than QUIC.</summary>
    public bool Carries(ReadOnlySpan<byte> datagram, int dcidLength) =>
        _inUse && _tag != 0 && datagram.Length > 1 + dcidLength + TagLength && (datagram[0] & 0x80) == 0
        && BinaryPrimitives.ReadUInt64LittleEndian(datagram[(1 + dcidLength)..]) == _tag;

    /// <summary>Loop thread, after a flush sent packets to <paramref name="remote"/>: publishes a new target if the CID or address changed.</summary>
    public unsafe void Refresh(SafeQuicConnectionHandle handle, in PeerAddress remote)
    {
        if (_tag == 0 && !TryDeriveTag(handle))
        {
            return;
        }

        Span<byte> dcid = stackalloc byte[ConnectionId.MaxLength];
        int length;
        fixed (byte* d = dcid)
        {
            length = QuicShim.ConnGetDcid(handle, d);
        }

        if (length <= 0)
        {
            return;
        }

        var current = _target;
        if (current is not null && current.Remote == remote && current.Header.Length == 1 + length + TagLength && current.Header.AsSpan(1, length).SequenceEqual(dcid[..length]))
        {
            return;
        }

        var header = new byte[1 + length + TagLength];
        header[0] = FirstByte;
        dcid[..length].CopyTo(header.AsSpan(1));
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(1 + length), _tag);
        _target = new Target(remote, header);
    }

    public bool IsFromPeer(in PeerAddress source) => _target is { } target && target.Remote == source;

    public void CountSent() => Interlocked.Increment(ref _sent);

    public void CountRefused() => Interlocked.Increment(ref _refused);

    private unsafe bool TryDeriveTag(SafeQuicConnectionHandle handle)
    {
        ulong tag;
        if (QuicShim.ConnExportKey(handle, TagExporterLabel, (byte*)&tag, TagLength) != 0)
        {
            return false; // the handshake is not done yet: the next flush tries again
        }

        // 0 stands for "no tag yet"; one exporter output in 2^64 moves to 1.
        _tag = tag == 0 ? 1 : tag;
        return true;
    }

    /// <summary>Where the connection's datagrams go now: the path's remote, and the bytes in front of each (first byte, DCID, tag).</summary>
    public sealed class Target(PeerAddress remote, byte[] header)
    {
        public PeerAddress Remote { get; } = remote;

        public byte[] Header { get; } = header;

        /// <summary>Writes the datagram (header, <paramref name="prefix"/>, <paramref name="payload"/>) into <paramref name="destination"/>; returns its length.</summary>
        public int Write(Span<byte> destination, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> payload)
        {
            Header.CopyTo(destination);
            prefix.CopyTo(destination[Header.Length..]);
            payload.CopyTo(destination[(Header.Length + prefix.Length)..]);
            return Header.Length + prefix.Length + payload.Length;
        }
    }
}
