using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using QuicPipe.Cli.Internal;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>--config FILE</c> and <c>QUICPIPE_&lt;COMMAND&gt;__&lt;KEY&gt;</c> variables on real processes: what they set, what
/// overrides what, and the one line a bad file says (docs/configuration.md).
/// </summary>
public sealed class ConfigFileTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly Dictionary<string, string> NoEnvironment = [];
    private readonly CliScratch _scratch = new("quicpipe-config-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void A_relay_started_with_only_a_config_file_listens_and_reports_as_the_file_says()
    {
        var port = CliTestKit.FreeUdpPort();
        var config = Write("relay.json", $$"""{ "relay": { "listen": ["127.0.0.1:{{port}}"], "statsInterval": "200ms", "statsFormat": "json", "threads": 1 } }""");

        using var relay = _scratch.Own(RelayProcess.Start("relay", "--config", config));

        // Datagrams sent to the file's address are counted: the relay listens there.
        AssertReceives(relay, port);

        // Stats lines at the file's 200ms, not the default 10s: consecutive uptimes are well under a second apart.
        Assert.True(SpinWait.SpinUntil(() => Uptimes(relay).Count >= 3, TimeSpan.FromSeconds(10)), relay.AllStderr);
        var uptimes = Uptimes(relay);
        Assert.InRange(uptimes[^1] - uptimes[^2], 0.05, 0.9);
    }

    [Fact]
    public void SIGHUP_checks_the_file_again_and_names_what_changed_as_needing_a_restart_or_refuses_a_bad_file()
    {
        var port = CliTestKit.FreeUdpPort();
        string Settings(string interval) =>
            $$"""{ "relay": { "listen": ["127.0.0.1:{{port}}"], "statsInterval": "{{interval}}", "threads": 1 } }""";
        var config = Write("relay.json", Settings("10m"));
        using var relay = _scratch.Own(RelayProcess.Start("relay", "--config", config));

        // "Relay running" is logged once the SIGHUP handler is in place; signalling earlier would end the process.
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);

        relay.Signal(RelayProcess.SigHup);
        Assert.True(relay.WaitForStderr(l => l.EndsWith($"SIGHUP: reloaded config file {config} (no setting changed)", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), relay.AllStderr);

        File.WriteAllText(config, Settings("5s"));
        relay.Signal(RelayProcess.SigHup);
        Assert.True(relay.WaitForStderr(l => l.Contains($"SIGHUP: not reloaded: config file {config}: changed, each needs a restart to take effect: relay.statsInterval (10m -> 5s)", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), relay.AllStderr);

        File.WriteAllText(config, """{ "relay": { "statsInterval": "soon" } }""");
        relay.Signal(RelayProcess.SigHup);
        Assert.True(relay.WaitForStderr(l => l.Contains($"config file {config}: not taken: quicpipe relay: {config}: relay.statsInterval: 'soon' is not a duration", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), relay.AllStderr);

        // The relay runs on with what it started with: its port still taken, never restarted by a signal.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Assert.Throws<SocketException>(() => probe.Bind(new IPEndPoint(IPAddress.Loopback, port)));
        Assert.False(relay.HasExited, "SIGHUP must not end the relay");
    }

    [Fact]
    public void A_flag_overrides_the_file()
    {
        var port = CliTestKit.FreeUdpPort();
        var config = Write("relay.json", $$"""{ "relay": { "listen": ["127.0.0.1:{{port}}"], "statsInterval": "10m", "statsFormat": "json", "threads": 1 } }""");

        using var relay = _scratch.Own(RelayProcess.Start("relay", "--config", config, "--stats-interval", "200ms"));

        Assert.True(SpinWait.SpinUntil(() => Uptimes(relay).Count >= 2, TimeSpan.FromSeconds(10)), relay.AllStderr);
    }

    [Fact]
    public void An_environment_variable_overrides_the_flag_and_the_file()
    {
        var filePort = CliTestKit.FreeUdpPort();
        var envPort = CliTestKit.FreeUdpPort();
        var config = Write("relay.json", $$"""{ "relay": { "listen": ["127.0.0.1:{{filePort}}"], "statsInterval": "10m", "statsFormat": "json", "threads": 1 } }""");
        var environment = new Dictionary<string, string>
        {
            ["QUICPIPE_RELAY__STATSINTERVAL"] = "200ms",
            ["QUICPIPE_RELAY__LISTEN__0"] = $"127.0.0.1:{envPort}",
        };

        using var relay = _scratch.Own(RelayProcess.Start(environment, "relay", "--config", config, "--stats-interval", "10m", "--listen", $"127.0.0.1:{filePort}"));

        Assert.True(SpinWait.SpinUntil(() => Uptimes(relay).Count >= 2, TimeSpan.FromSeconds(10)), relay.AllStderr);
        AssertReceives(relay, envPort);

        // Neither the flag's nor the file's address was taken.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, filePort));
    }

    [Fact]
    public void A_repeatable_option_is_a_json_array()
    {
        var first = CliTestKit.FreeUdpPort();
        var second = CliTestKit.FreeUdpPort();
        var config = Write("relay.json", $$"""{ "relay": { "listen": ["127.0.0.1:{{first}}", "127.0.0.1:{{second}}"], "statsInterval": "200ms", "statsFormat": "json", "threads": 1 } }""");

        using var relay = _scratch.Own(RelayProcess.Start("relay", "--config", config));

        AssertReceives(relay, first);
        AssertReceives(relay, second, atLeast: 2);
    }

    [Fact]
    public void Required_flags_can_come_from_the_file()
    {
        var key = Path.Combine(_scratch.Directory, "made.key");
        var config = Write("keygen.json", JsonSerializer.Serialize(new { keygen = new { @out = key } }));

        var (code, stdout, stderr) = RelayProcess.Run(Startup, "keygen", "--config", config);

        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(key));
        Assert.Equal(52, stdout.Trim().Length);
    }

    [Fact]
    public void A_bad_value_is_one_line_naming_the_key_the_file_and_what_is_allowed()
    {
        var config = Write("relay.json", """{ "relay": { "listen": ["127.0.0.1:0"], "statsInterval": "soon" } }""");

        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--config", config);

        Assert.Equal(2, code);
        var line = Assert.Single(Lines(stderr));
        Assert.Equal($"quicpipe relay: {config}: relay.statsInterval: 'soon' is not a duration (examples: 1s, 500ms, 2m, 0 for off).", line);
    }

    [Fact]
    public void A_bad_value_out_of_range_or_of_the_wrong_kind_names_what_is_allowed()
    {
        var range = Write("range.json", """{ "relay": { "batch": 5000 } }""");
        var kind = Write("kind.json", """{ "relay": { "logLevel": "loud" } }""");
        var list = Write("list.json", """{ "relay": { "batch": [1, 2] } }""");

        var (rangeCode, _, rangeErr) = RelayProcess.Run(Startup, "relay", "--config", range);
        var (kindCode, _, kindErr) = RelayProcess.Run(Startup, "relay", "--config", kind);
        var (listCode, _, listErr) = RelayProcess.Run(Startup, "relay", "--config", list);

        Assert.Equal(2, rangeCode);
        Assert.Equal($"quicpipe relay: {range}: relay.batch: --batch must be 1 to 1024, not 5000.", Assert.Single(Lines(rangeErr)));
        Assert.Equal(2, kindCode);
        var kindLine = Assert.Single(Lines(kindErr));
        Assert.StartsWith($"quicpipe relay: {kind}: relay.logLevel: ", kindLine, StringComparison.Ordinal);
        Assert.Contains("Information", kindLine, StringComparison.Ordinal);
        Assert.Equal(2, listCode);
        Assert.StartsWith($"quicpipe relay: {list}: relay.batch: takes one value", Assert.Single(Lines(listErr)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_environment_value_names_the_variable()
    {
        var (code, _, stderr) = RelayProcess.Run(Startup, new Dictionary<string, string> { ["QUICPIPE_RELAY__CIDLENGTH"] = "0" }, "relay", "--listen", "127.0.0.1:0");

        Assert.Equal(2, code);
        Assert.Equal("quicpipe relay: environment variable QUICPIPE_RELAY__CIDLENGTH: relay.cidLength: --cid-length must be 1 to 20, not 0.", Assert.Single(Lines(stderr)));
    }

    [Fact]
    public void An_unknown_key_is_refused_naming_it_and_the_file()
    {
        var inSection = Write("typo.json", """{ "relay": { "statsIntervall": "1s" } }""");
        var otherCommand = Write("other.json", """{ "relay": { "statsInterval": "1s" }, "expose": { "alow": [] } }""");
        var topLevel = Write("top.json", """{ "listen": ["127.0.0.1:0"] }""");

        foreach (var (file, key) in new[] { (inSection, "relay.statsIntervall"), (otherCommand, "expose.alow"), (topLevel, "listen") })
        {
            var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--config", file);

            Assert.Equal(2, code);
            var line = Assert.Single(Lines(stderr));
            Assert.StartsWith($"quicpipe relay: {file}: unknown key '{key}'", line, StringComparison.Ordinal);
        }

        var (envCode, _, envErr) = RelayProcess.Run(Startup, new Dictionary<string, string> { ["QUICPIPE_RELAY__NOSUCH"] = "1" }, "relay");
        Assert.Equal(2, envCode);
        Assert.StartsWith("quicpipe relay: environment variable QUICPIPE_RELAY__NOSUCH: unknown key 'relay.NOSUCH'", Assert.Single(Lines(envErr)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_unreadable_or_malformed_file_is_one_clear_line()
    {
        var missing = Path.Combine(_scratch.Directory, "missing.json");
        var directory = Directory.CreateDirectory(Path.Combine(_scratch.Directory, "a-directory.json")).FullName;
        var malformed = Write("malformed.json", """{ "relay": { "listen": """);

        var cases = new[]
        {
            (missing, $"quicpipe relay: --config {missing}: no such file"),
            (directory, $"quicpipe relay: --config {directory}: "),
            (malformed, $"quicpipe relay: --config {malformed}: not valid JSON: "),
        };
        foreach (var (file, start) in cases)
        {
            var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--config", file);

            Assert.Equal(2, code);
            Assert.StartsWith(start, Assert.Single(Lines(stderr)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_command_takes_config_and_its_help_lists_it()
    {
        foreach (var command in QuicpipeCommand.Create().Subcommands)
        {
            var (code, stdout, _) = RelayProcess.Run(Startup, command.Name, "--help");

            Assert.Equal(0, code);
            Assert.Contains("--config <FILE>", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Keys_are_the_flags_in_camel_case()
    {
        var relay = QuicpipeCommand.Create().Subcommands.Single(c => c.Name == "relay");

        var keys = ConfigDefaults.ConfigurableOptions(relay).Select(ConfigDefaults.KeyOf).ToList();

        Assert.Contains("statsInterval", keys);
        Assert.Contains("listen", keys);
        Assert.Contains("recvBuffer", keys);
        Assert.DoesNotContain("config", keys);
        Assert.DoesNotContain("help", keys);
    }

    [Fact]
    public void The_configuration_doc_lists_every_key_with_its_flag_and_no_other()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "configuration.md"));
        var expected = ConfigurationDoc.KeyTables();

        // The tables are generated from the real option definitions: when a flag is added, paste the expected text.
        Assert.True(doc.Contains(expected, StringComparison.Ordinal), "docs/configuration.md's key tables are stale; they should read:\n" + expected);
    }

    [Fact]
    public void The_configuration_docs_examples_are_valid_configurations()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "configuration.md"));
        var examples = doc.Split("```json\n").Skip(1).Select(block => block[..block.IndexOf("```", StringComparison.Ordinal)]).ToList();
        Assert.NotEmpty(examples);

        // Every value is parsed and every key checked before --help answers: a stale example fails here.
        for (var i = 0; i < examples.Count; i++)
        {
            var file = Write($"example{i}.json", examples[i]);
            foreach (var section in JsonDocument.Parse(examples[i]).RootElement.EnumerateObject())
            {
                var (code, _, stderr) = RelayProcess.Run(Startup, section.Name, "--config", file, "--help");

                Assert.True(code == 0 && stderr.Length == 0, $"{section.Name} example {i}: exit {code}: {stderr}");
            }
        }
    }

    private string Write(string name, string json)
    {
        var path = Path.Combine(_scratch.Directory, name);
        File.WriteAllText(path, json);
        return path;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static List<double> Uptimes(RelayProcess relay) =>
        [.. relay.Stderr.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("uptime_s").GetDouble())];

    private static long Received(RelayProcess relay) =>
        relay.Stderr.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("received").GetInt64()).DefaultIfEmpty(0).Max();

    /// <summary>Sends datagrams to 127.0.0.1:<paramref name="port"/> until the relay's JSON stats count them.</summary>
    private static void AssertReceives(RelayProcess relay, int port, int atLeast = 1)
    {
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var packet = Encoding.ASCII.GetBytes("not quic, but counted");
        var sent = SpinWait.SpinUntil(
            () =>
            {
                sender.SendTo(packet, new IPEndPoint(IPAddress.Loopback, port));
                Thread.Sleep(100);
                return Received(relay) >= atLeast || relay.HasExited;
            },
            Startup);
        Assert.True(sent && !relay.HasExited, relay.AllStderr);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "QuicPipe.Dataplane.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("no QuicPipe.Dataplane.sln above " + AppContext.BaseDirectory);
    }
}
