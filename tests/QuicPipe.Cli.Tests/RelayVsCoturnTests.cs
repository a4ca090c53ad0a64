using System.Globalization;
using System.Text.Json.Nodes;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// perf/relay-vs-coturn.sh on a short paced run with Debian's real turnserver: the generator's TURN client gets an
/// allocation and a channel, both relays deliver every datagram intact to the same sink, and the script reports
/// each one's CPU per packet and the ratio the issue's target is stated in.
/// </summary>
public sealed class RelayVsCoturnTests
{
    private const int OfferedRate = 5000;

    [Fact]
    public void Both_relays_deliver_every_datagram_intact_and_the_cpu_ratio_is_reported()
    {
        var (code, log) = PerfScript.Run(
            TimeSpan.FromSeconds(150),
            "bash",
            PerfScript.PathOf("relay-vs-coturn.sh"),
            "--relay-dll", Path.Combine(AppContext.BaseDirectory, "quicpipe.dll"),
            "--rounds", "1", "--duration", "2", "--warmup", "2", "--rate", OfferedRate.ToString(CultureInfo.InvariantCulture),
            "--port-base", FreeBase().ToString(CultureInfo.InvariantCulture));
        Assert.True(code == 0, $"relay-vs-coturn.sh exited {code}:\n{log}");

        var jsonLine = log.Split('\n').Single(l => l.StartsWith("json: ", StringComparison.Ordinal));
        var result = JsonNode.Parse(File.ReadAllText(jsonLine["json: ".Length..].Trim()))!;
        var runs = result["rounds"]![0]!["results"]!.AsArray();
        Assert.Equal(["coturn", "quicpipe"], runs.Select(r => (string)r!["name"]!).Order());
        foreach (var run in runs)
        {
            var name = (string)run!["name"]!;
            Assert.True((bool)run["ok"]!, $"{name}: {run["errors"]}\n{log}");
            Assert.Equal(0, (long)run["sink_verify_mismatches"]!);
            // Everything the generator sent reached the sink (a few of the last may still be in flight at its end).
            Assert.True((double)run["delivered_fraction"]! >= 0.99, $"{name} delivered {run["delivered_fraction"]} of what was sent");
            Assert.InRange((double)run["forwarded_pps"]!, OfferedRate * 0.8, OfferedRate * 1.2);
            Assert.True((double)run["cpu_us_per_packet"]! > 0, $"{name}: no CPU per packet");
        }

        var ratio = result["ratios"]!["quicpipe/coturn"]!;
        Assert.True((double)ratio["cpu_per_packet"]! > 0);
        Assert.Contains("ratio quicpipe/coturn", log, StringComparison.Ordinal);
    }

    /// <summary>A base port whose forwarder and sink ports are free; coturn's relay ports sit 10-99 above it.</summary>
    private static int FreeBase()
    {
        while (true)
        {
            var port = PerfScript.FreePortPair();
            if (port <= 65400)
            {
                return port;
            }
        }
    }
}
