using System.Net.Sockets;
using System.Text;
using QuicPipe.Interop;
using QuicPipe.Xdp.Interop;

namespace QuicPipe.Xdp.Internal;

/// <summary>
/// Reads one interface's driver name and statistics the way <c>ethtool -i</c> and <c>ethtool -S</c> do. The socket the
/// requests go through is made in the constructor's network namespace and answers for that namespace from any thread
/// after, so a reader made where the program was attached keeps naming the same interface.
/// </summary>
internal sealed class EthtoolReader : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly string _interfaceName;

    public EthtoolReader(string interfaceName)
    {
        if (Encoding.UTF8.GetByteCount(interfaceName) >= EthtoolIfReq.NameSize)
        {
            throw new ArgumentException($"'{interfaceName}' is longer than an interface name can be.", nameof(interfaceName));
        }

        _interfaceName = interfaceName;
    }

    /// <summary>The driver's name (<c>veth</c>, <c>mlx5_core</c>...), or null if the interface does not say.</summary>
    public unsafe string? Driver()
    {
        var info = new EthtoolDriverInfo { Command = Ethtool.GetDriverInfo };
        if (!TryRequest(&info))
        {
            return null;
        }

        var name = new ReadOnlySpan<byte>(info.Driver, 32);
        var end = name.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? name : name[..end]);
    }

    /// <summary>Every statistic the driver exports (ETH_SS_STATS), by name; empty if it exports none or the interface is gone.</summary>
    public unsafe IReadOnlyList<(string Name, ulong Value)> Statistics()
    {
        var info = new EthtoolDriverInfo { Command = Ethtool.GetDriverInfo };
        if (!TryRequest(&info) || info.StatisticsCount == 0)
        {
            return [];
        }

        var count = (int)info.StatisticsCount;
        var strings = new byte[sizeof(EthtoolStringsHead) + (count * Ethtool.StringLength)];
        var values = new byte[sizeof(EthtoolStatisticsHead) + (count * sizeof(ulong))];
        fixed (byte* s = strings)
        fixed (byte* v = values)
        {
            *(EthtoolStringsHead*)s = new EthtoolStringsHead { Command = Ethtool.GetStrings, StringSet = Ethtool.StatisticsSet, Length = (uint)count };
            *(EthtoolStatisticsHead*)v = new EthtoolStatisticsHead { Command = Ethtool.GetStatistics, Count = (uint)count };
            if (!TryRequest(s) || !TryRequest(v))
            {
                return [];
            }

            // The driver may have fewer statistics by now (a queue went away): read what both answers hold.
            count = (int)Math.Min(((EthtoolStringsHead*)s)->Length, ((EthtoolStatisticsHead*)v)->Count);
            var result = new (string, ulong)[count];
            var text = new ReadOnlySpan<byte>(s + sizeof(EthtoolStringsHead), count * Ethtool.StringLength);
            var numbers = new ReadOnlySpan<ulong>(v + sizeof(EthtoolStatisticsHead), count);
            for (var i = 0; i < count; i++)
            {
                var name = text.Slice(i * Ethtool.StringLength, Ethtool.StringLength);
                var end = name.IndexOf((byte)0);
                result[i] = (Encoding.UTF8.GetString(end < 0 ? name : name[..end]), numbers[i]);
            }

            return result;
        }
    }

    public void Dispose() => _socket.Dispose();

    private unsafe bool TryRequest(void* request)
    {
        var ifreq = default(EthtoolIfReq);
        var name = new Span<byte>(ifreq.Name, EthtoolIfReq.NameSize);
        Encoding.UTF8.GetBytes(_interfaceName, name);
        ifreq.Data = request;
        return Libc.Ioctl(_socket.SafeHandle, Ethtool.SiocEthtool, &ifreq) == 0;
    }
}
