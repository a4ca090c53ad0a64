using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// perf/flamegraph.sh on a short relay run, its two profiles rendered by the speedscope viewer it installs (in
/// headless Chromium): the relay's forwarding stage must be a frame a person sees in each.
/// </summary>
/// <remarks>
/// Root: perf record on another process needs it (CI runs as root). The script installs dotnet-trace and speedscope
/// from NuGet and npm on its first run, and loads the relay at a paced 50k packets/s, not flat out, so the tests
/// running beside it keep their CPU.
/// </remarks>
public sealed partial class ProfilingTests : IDisposable
{
    private static readonly TimeSpan ScriptLimit = TimeSpan.FromSeconds(150);
    private static readonly TimeSpan RenderLimit = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-profile-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [RootFact]
    public void A_short_relay_profile_shows_the_forwarding_stage_in_the_viewer()
    {
        var script = PerfScript.PathOf("flamegraph.sh");
        var repo = Path.GetDirectoryName(Path.GetDirectoryName(script))!;
        var output = Path.Combine(_directory, "relay");

        var (code, log) = PerfScript.Run(
            ScriptLimit,
            "bash",
            script,
            "--relay-dll", Path.Combine(AppContext.BaseDirectory, "quicpipe.dll"),
            "--seconds", "2", "--warmup", "1", "--cids", "1000", "--rate", "50000",
            "--port-base", PerfScript.FreePortPair().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--out", output);
        Assert.True(code == 0, $"flamegraph.sh exited {code}:\n{log}");

        // The viewer shows one thread at a time: pick the forwarding thread, as a person would in its thread menu.
        var wholeProcess = ForwardingThreadOnly(File.ReadAllText(output + ".linux-perf.txt"));
        var managed = WithForwardingThreadActive(File.ReadAllText(output + ".speedscope.json"));

        var viewer = Path.Combine(repo, "perf", ".tools", "npm", "node_modules", "speedscope", "dist", "release", "index.html");
        Assert.Matches(StageFrame(), RenderSandwich(viewer, "relay.linux-perf.txt", wholeProcess));
        Assert.Matches(StageFrame(), RenderSandwich(viewer, "relay.speedscope.json", managed));
    }

    /// <summary>The perf script samples of the relay's receive loop threads (named udp-rx), each named from the perf map.</summary>
    private static string ForwardingThreadOnly(string perfScript)
    {
        var samples = perfScript.Split("\n\n").Where(s => s.StartsWith("udp-rx", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(samples);
        Assert.Contains(samples, s => StageFrame().IsMatch(s) && s.Contains("(/tmp/perf-", StringComparison.Ordinal));
        return string.Join("\n\n", samples) + "\n\n";
    }

    /// <summary>dotnet-trace's speedscope file with the thread that ran the stage most often as the one shown first.</summary>
    private static string WithForwardingThreadActive(string json)
    {
        var profile = JsonNode.Parse(json)!;
        Assert.EndsWith("file-format-schema.json", (string)profile["$schema"]!, StringComparison.Ordinal);
        var frames = profile["shared"]!["frames"]!.AsArray();
        var stage = frames.Index().Where(f => StageFrame().IsMatch((string)f.Item!["name"]!)).Select(f => f.Index).ToHashSet();
        Assert.NotEmpty(stage);

        // Evented profiles (what dotnet-trace writes): each "O" event opens a frame on a thread's stack.
        var opens = profile["profiles"]!.AsArray()
            .Select(p => p!["events"]!.AsArray().Count(e => (string)e!["type"]! == "O" && stage.Contains((int)e["frame"]!)))
            .ToList();
        Assert.True(opens.Max() > 0, "no thread ran the forwarding stage");
        profile["activeProfileIndex"] = opens.IndexOf(opens.Max());
        return profile.ToJsonString();
    }

    /// <summary>
    /// The text of speedscope's Sandwich view (a table of every function with its self and total time) after the viewer
    /// loaded <paramref name="content"/>, read from the page's DOM. The profile reaches the page the way speedscope's own
    /// command line hands it over: a script calling <c>speedscope.loadFileFromBase64</c>, named in the URL.
    /// </summary>
    private string RenderSandwich(string viewer, string name, string content)
    {
        var script = Path.Combine(_directory, name + ".js");
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(content));
        File.WriteAllText(script, $"speedscope.loadFileFromBase64(\"{name}\", \"{base64}\")");

        var (code, dom) = PerfScript.Run(
            RenderLimit,
            "chromium",
            "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files", "--window-size=1400,2000",
            "--virtual-time-budget=10000", "--dump-dom",
            $"file://{viewer}#localProfilePath={script}&view=sandwich");
        Assert.True(code == 0, $"chromium exited {code}:\n{dom}");
        return dom;
    }

    [GeneratedRegex(@"RelayForwardingStage(::|\.)Invoke")]
    private static partial Regex StageFrame();
}
