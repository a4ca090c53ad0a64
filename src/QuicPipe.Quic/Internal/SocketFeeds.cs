using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Internal;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// The endpoint's <see cref="QuicSocketFeed"/>s and the epoll set its loop waits in while it has any: the endpoint's
/// UDP socket (level-triggered) and each feed's socket (edge-triggered), so one wait covers packets and feed bytes
/// alike. Loop thread only (Dispose: after the loop ended).
/// </summary>
internal sealed class SocketFeeds : IDisposable
{
    private const ulong DatagramKey = 0;

    // Bytes a feed reads per call: as much as the TCP side's read buffers have held at most (TcpReadBuffer).
    private const int ScratchBytes = 256 * 1024;

    private readonly EpollSet _epoll = new(maxEventsPerWait: 64);
    private readonly Dictionary<ulong, QuicSocketFeed> _feeds = [];
    private readonly List<QuicSocketFeed> _ready = [];
    private UdpBatchSocket? _datagramSocket;
    private ulong _nextKey = DatagramKey + 1;

    /// <summary>Where a feed reads into before the bytes are copied into its stream's send buffer.</summary>
    public byte[] Scratch { get; } = GC.AllocateUninitializedArray<byte>(ScratchBytes, pinned: true);

    public int Count => _feeds.Count;

    /// <summary>Waits on <paramref name="socket"/> too, instead of the one it waited on before (a rebind's old one).</summary>
    public void UseDatagramSocket(UdpBatchSocket socket)
    {
        if (ReferenceEquals(socket, _datagramSocket))
        {
            return;
        }

        if (_datagramSocket is { } old)
        {
            _epoll.Remove(old.Descriptor);
        }

        _epoll.Add(socket.Descriptor, DatagramKey, EpollSet.Readable);
        _datagramSocket = socket;
    }

    public void Add(QuicSocketFeed feed)
    {
        var key = _nextKey++;
        _epoll.Add(feed.Handle, key, EpollSet.Readable | EpollSet.PeerClosed | EpollSet.EdgeTriggered);
        feed.Key = key;
        _feeds.Add(key, feed);
    }

    public void Remove(QuicSocketFeed feed)
    {
        if (_feeds.Remove(feed.Key))
        {
            _epoll.Remove(feed.Handle);
        }
    }

    /// <summary>
    /// Waits at most <paramref name="timeout"/> for datagrams or feed bytes; notes the feeds that became readable
    /// (for <see cref="DrainReady"/>) and returns whether the UDP socket is.
    /// </summary>
    public bool Wait(TimeSpan timeout)
    {
        var datagrams = false;
        var count = _epoll.Wait(timeout);
        for (var i = 0; i < count; i++)
        {
            var key = _epoll.KeyAt(i);
            if (key == DatagramKey)
            {
                datagrams = true;
            }
            else if (_feeds.TryGetValue(key, out var feed))
            {
                _ready.Add(feed);
            }
        }

        return datagrams;
    }

    /// <summary>Reads each feed that became readable into its stream, as far as the stream's send buffer has room.</summary>
    public void DrainReady()
    {
        for (var i = 0; i < _ready.Count; i++)
        {
            var feed = _ready[i];
            feed.Readable = true;
            feed.Stream.Connection.DrainWrites(feed.Stream);
        }

        _ready.Clear();
    }

    /// <summary>After the loop ended: ends the feeds still running (their streams can send nothing more) and closes the set.</summary>
    public void Dispose()
    {
        foreach (var feed in _feeds.Values.ToArray())
        {
            feed.End(QuicSocketFeedEnd.StreamFailed);
        }

        _epoll.Dispose();
    }
}
