using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// The runtime's own monitoring tool sees the meters `--metrics` exports: `dotnet-counters collect` (installed pinned
/// from NuGet, as perf/flamegraph.sh installs dotnet-trace) attached to a running relay reads its forwarding meter.
/// </summary>
public sealed class DotnetCountersTests : IDisposable
{
    private const string Version = "10.0.750501";
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    // Shared by runs on one machine: installing takes a NuGet download.
    private static readonly string ToolPath = Path.Combine(Path.GetTempPath(), "quicpipe-test-tools", $"dotnet-counters-{Version}");

    private readonly CliScratch _scratch = new("quicpipe-counters-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Dotnet_counters_reads_the_relays_forwarding_meter()
    {
        var counters = Install();
        var routes = Path.Combine(_scratch.Directory, "routes.txt");
        File.WriteAllLines(routes, ["2a0000000000000000000001 127.0.0.1:9", "2a0000000000000000000002 127.0.0.1:9"]);
        var port = CliTestKit.FreeUdpPort();
        using var relay = _scratch.Own(RelayProcess.Start("relay", "--listen", $"127.0.0.1:{port}", "--routes", routes, "--threads", "1", "--stats-interval", "0"));
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);

        // Datagrams with a CID no route knows, all through the collection: the received counter moves in every interval.
        using var sending = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var datagram = Convert.FromHexString("41" + "2b0000000000000000000009" + "00112233");
            while (!sending.IsCancellationRequested)
            {
                socket.SendTo(datagram, new IPEndPoint(IPAddress.Loopback, port));
                await Task.Delay(20).ConfigureAwait(false);
            }
        });

        var output = Path.Combine(_scratch.Directory, "counters.json");
        var (exit, log) = Run(counters, TimeSpan.FromSeconds(60), "collect", "-p", relay.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--counters", "QuicPipe.Relay.Forwarding", "--format", "json", "-o", output, "--duration", "00:00:00:04", "--refresh-interval", "1");
        sending.Cancel();
        await sender;
        Assert.True(exit == 0, log);

        var events = JsonDocument.Parse(File.ReadAllText(output)).RootElement.GetProperty("Events").EnumerateArray()
            .Where(e => e.GetProperty("provider").GetString() == "QuicPipe.Relay.Forwarding")
            .Select(e => (Name: e.GetProperty("name").GetString()!, Value: e.GetProperty("value").GetDouble()))
            .ToList();
        Assert.Contains(events, e => e.Name.StartsWith("quicpipe.relay.routes.static", StringComparison.Ordinal) && e.Value == 2);
        Assert.Contains(events, e => e.Name.StartsWith("quicpipe.relay.received ", StringComparison.Ordinal) && e.Value > 0);
    }

    private static string Install()
    {
        var tool = Path.Combine(ToolPath, "dotnet-counters");
        if (!File.Exists(tool))
        {
            var (exit, log) = Run("dotnet", TimeSpan.FromMinutes(3), "tool", "install", "dotnet-counters", "--version", Version, "--tool-path", ToolPath);
            Assert.True(exit == 0 && File.Exists(tool), $"dotnet tool install dotnet-counters {Version} failed: {log}");
        }

        return tool;
    }

    private static (int ExitCode, string Output) Run(string file, TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{file} {string.Join(' ', args)} did not end within {timeout}");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
