using System.Globalization;
using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.PeerBench;

/// <summary>Command line of the benchmark; <see cref="Parse"/> returns null (after printing why) on a bad one.</summary>
internal sealed class BenchOptions
{
    public const string Usage =
        "Usage: QuicPipe.PeerBench --mode direct|relayed|circuit|circuit-direct|circuit-encrypted [--relay ADDR:PORT --relay-id NODEID] [--bytes N (268435456)] [--chunk BYTES (65536)] [--warmup BYTES (0)] [--timeout SECONDS (120)]";

    public string Mode { get; private set; } = "";

    public IPEndPoint? Relay { get; private set; }

    public NodeId? RelayId { get; private set; }

    public long Bytes { get; private set; } = 256L * 1024 * 1024;

    public int Chunk { get; private set; } = 64 * 1024;

    /// <summary>Bytes sent on a stream of their own before the measured one: JIT compilation then happens before it.</summary>
    public long Warmup { get; private set; }

    public TimeSpan Timeout { get; private set; } = TimeSpan.FromSeconds(120);

    public static BenchOptions? Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--mode" when value is "direct" or "relayed" or "circuit" or "circuit-direct" or "circuit-encrypted":
                    options.Mode = value;
                    break;
                case "--relay" when value is not null && PeerAddress.TryParseEndPoint(value, out var relay, out _):
                    options.Relay = relay;
                    break;
                case "--relay-id" when value is not null && NodeId.TryParse(value, out var id):
                    options.RelayId = id;
                    break;
                case "--bytes" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0:
                    options.Bytes = bytes;
                    break;
                case "--chunk" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var chunk) && chunk > 0:
                    options.Chunk = chunk;
                    break;
                case "--warmup" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var warmup):
                    options.Warmup = warmup;
                    break;
                case "--timeout" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0:
                    options.Timeout = TimeSpan.FromSeconds(seconds);
                    break;
                default:
                    Console.Error.WriteLine($"bad or incomplete argument '{args[i]}'");
                    Console.Error.WriteLine(Usage);
                    return null;
            }

            i++;
        }

        if (options.Mode == "" || (options.Mode is "relayed" or "circuit" or "circuit-direct" or "circuit-encrypted" && (options.Relay is null || options.RelayId is null)))
        {
            Console.Error.WriteLine("--mode is required; --mode relayed and the circuit modes also need --relay and --relay-id");
            Console.Error.WriteLine(Usage);
            return null;
        }

        return options;
    }
}
