using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using QuicPipe.Dataplane;
using QuicPipe.Vpn;

namespace QuicPipe.Benchmarks;

/// <summary>
/// What a VPN stage does per packet: parse, find the peer by longest-prefix match over 2000 allowed-IP prefixes
/// (a /32 or /128 per peer plus a /24 or /64 behind a tenth of them), and checksum a full-size packet.
/// </summary>
[MemoryDiagnoser]
public class VpnPacketBenchmarks
{
    private const int Peers = 1800;
    private const int Keys = 1024;
    private readonly byte[][] _v4Hits = new byte[Keys][];
    private readonly byte[][] _v6Hits = new byte[Keys][];
    private readonly byte[][] _misses = new byte[Keys][];
    private readonly byte[] _packet = new byte[1500];
    private PrefixTable<int> _table = null!;

    [GlobalSetup]
    public void Setup()
    {
        var entries = new List<(IpPrefix, int)>();
        for (var peer = 0; peer < Peers; peer++)
        {
            entries.Add((new IpPrefix(V4(0x6440_0000u + (uint)peer), 32), peer));
            entries.Add((new IpPrefix(V6(0xFD00_0064_0000_0000UL, (ulong)peer), 128), peer));
            if (peer % 10 == 0)
            {
                entries.Add((new IpPrefix(V4(0x0A00_0000u + ((uint)peer << 8)), 24), peer));
                entries.Add((new IpPrefix(V6(0xFD00_0100_0000_0000UL + (ulong)peer, 0), 64), peer));
            }
        }

        _table = new PrefixTable<int>(entries);
        var random = new Random(7);
        for (var i = 0; i < Keys; i++)
        {
            var peer = random.Next(Peers);
            _v4Hits[i] = (i % 2 == 0 ? V4(0x6440_0000u + (uint)peer) : V4(0x0A00_0000u + ((uint)(peer / 10 * 10) << 8) + 7)).GetAddressBytes();
            _v6Hits[i] = V6(0xFD00_0064_0000_0000UL, (ulong)peer).GetAddressBytes();
            _misses[i] = V4(0xC000_0200u + (uint)random.Next(256)).GetAddressBytes();
        }

        random.NextBytes(_packet);
        _packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(_packet.AsSpan(2), (ushort)_packet.Length);
        BinaryPrimitives.WriteUInt16BigEndian(_packet.AsSpan(6), 0);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Keys)]
    public int LookupIPv4Hit() => Lookup(_v4Hits);

    [Benchmark(OperationsPerInvoke = Keys)]
    public int LookupIPv6Hit() => Lookup(_v6Hits);

    [Benchmark(OperationsPerInvoke = Keys)]
    public int LookupMiss() => Lookup(_misses);

    [Benchmark]
    public int Parse() => IpPacket.TryParse(_packet, out var info) ? info.TotalLength : 0;

    [Benchmark]
    public ushort Checksum1500() => InternetChecksum.Compute(_packet);

    private int Lookup(byte[][] addresses)
    {
        var found = 0;
        for (var i = 0; i < addresses.Length; i++)
        {
            found += _table.TryLookup(addresses[i], out var peer) ? peer : 0;
        }

        return found;
    }

    private static IPAddress V4(uint address)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        return new IPAddress(bytes);
    }

    private static IPAddress V6(ulong high, ulong low)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, high);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], low);
        return new IPAddress(bytes);
    }
}
