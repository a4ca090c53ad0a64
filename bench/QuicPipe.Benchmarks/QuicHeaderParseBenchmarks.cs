using BenchmarkDotNet.Attributes;
using QuicPipe.Dataplane.Wire;

namespace QuicPipe.Benchmarks;

/// <summary>The header stage's pure parser on the two shapes the relay sees.</summary>
[MemoryDiagnoser]
public class QuicHeaderParseBenchmarks
{
    private byte[] _short = [];
    private byte[] _long = [];

    [GlobalSetup]
    public void Setup()
    {
        _short = BenchmarkData.ShortPacket(1);
        _long = new byte[1200];
        QuicPacketWriter.WriteLongHeader(_long, QuicVersions.V1, QuicPacketType.Initial, BenchmarkData.Cid(1).Span, BenchmarkData.Cid(2).Span, 1100);
    }

    [Benchmark(Baseline = true)]
    public bool ShortHeader() => QuicHeaderParser.TryParse(_short, BenchmarkData.CidLength, out _);

    [Benchmark]
    public bool LongHeader() => QuicHeaderParser.TryParse(_long, BenchmarkData.CidLength, out _);
}
