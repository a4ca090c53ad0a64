namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// The buffer one tunnel direction reads TCP into: it starts small and doubles, up to a maximum, each time a read
/// fills it. An interactive connection keeps the small one; a bulk transfer soon reads (and hands the QUIC stream)
/// large chunks, each of which costs one hand-over to the QUIC loop and one completion back.
/// </summary>
/// <remarks>
/// Arrays are not pooled: a write to the stream that was cancelled may still be read by the engine's loop thread.
/// Growing is safe because the previous write completed before the next read.
/// </remarks>
internal sealed class TcpReadBuffer(int maximum)
{
    /// <summary>The default maximum, chosen by measurement (perf/RESULTS.md: 64 KiB reads cost about 20% more CPU per byte).</summary>
    public const int DefaultMaximum = 256 * 1024;

    private const int Initial = 64 * 1024;

    private byte[] _array = new byte[Math.Min(Initial, maximum)];

    public Memory<byte> Memory => _array;

    /// <summary>Call after each read of <paramref name="read"/> bytes into <see cref="Memory"/>, once they are handed on.</summary>
    public void Grow(int read)
    {
        if (read == _array.Length && _array.Length < maximum)
        {
            _array = new byte[Math.Min(maximum, _array.Length * 2)];
        }
    }
}
