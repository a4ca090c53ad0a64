using System.CommandLine;
using System.CommandLine.Help;
using System.Diagnostics;
using System.Globalization;
using QuicPipe.Cli.Internal;
using QuicPipe.Quic;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// Every command, every flag and positional argument (read from the command tree, so one added later is covered),
/// each given random and boundary values: the answer is one line on stderr and exit 2, never a stack trace. Each case
/// is built to be invalid: the other flags are valid, but the key file is too open (0644), so a value the parser
/// accepts still ends in a one-line refusal before anything is bound or dialled.
/// </summary>
/// <remarks>
/// Two tiers keep it within a minute on two cores: every case is parsed in-process (the parse and the line are
/// Program's own: <see cref="ConfigDefaults.Parse"/> and <see cref="UsageError.LineOf"/>), and the real program runs
/// every case whose value the parser accepts (those reach the commands' own checks of files and values) plus a seeded
/// sample of the others.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CommandLineFuzzTests : IDisposable
{
    // QUICPIPE_FUZZ_SEED replays a run (a failure names its seed).
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("QUICPIPE_FUZZ_SEED"), CultureInfo.InvariantCulture, out var seed) ? seed : 18;
    private static readonly TimeSpan PerRun = TimeSpan.FromSeconds(30);
    private const int SampledParseErrors = 40;
    private const int AcceptedPerFlag = 2;
    private const int MaxProcessRuns = 200;

    private const string NodeA = "s5ouynmapxcti3fpc6ecopezo3p62x3l3ejbxrul3caofybr7pgq";
    private const string NodeB = "s7zhgi7esqjloe7yocakmlkn2d5qftivaumbqb7bq2efe6mruizq";

    private readonly CliScratch _scratch = new("quicpipe-fuzz-");
    private readonly ITestOutputHelper _output;
    private readonly string _openKey;
    private readonly string _existing;
    private readonly string _large;

    public CommandLineFuzzTests(ITestOutputHelper output)
    {
        _output = output;
        (_openKey, _) = CliTestKit.Identity(_scratch.Directory, "open");
        File.SetUnixFileMode(_openKey, (UnixFileMode)Convert.ToInt32("644", 8));
        _existing = Path.Combine(_scratch.Directory, "existing.key");
        NodeIdentity.Generate().SaveKeyFile(_existing);
        _large = Path.Combine(_scratch.Directory, "large");
        File.WriteAllBytes(_large, new byte[2 * 1024 * 1024]);
        File.SetUnixFileMode(_large, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // keygen writes any new path it is given: each relative value names a file that exists in the runs' working
        // directory, so keygen refuses it too (it never overwrites an identity).
        foreach (var value in Values())
        {
            if (IsPlainFileName(value) && !File.Exists(Path.Combine(_scratch.Directory, value)))
            {
                File.WriteAllText(Path.Combine(_scratch.Directory, value), "x");
            }
        }
    }

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Every_flag_of_every_command_given_a_bad_value_is_one_line_and_exit_2()
    {
        var clock = Stopwatch.StartNew();
        var cases = Cases().ToList();
        var parseErrors = new List<Case>();
        var parsed = new List<Case>();
        var inProcess = new List<string>();
        foreach (var fuzz in cases)
        {
            // In-process: the parse must not throw (a validator reading a flag that did not parse used to), and a
            // refusal is one line naming the command and the flag or the value.
            var parse = ConfigDefaults.Parse(QuicpipeCommand.Create(), fuzz.Arguments, out var configError);
            var line = parse is null ? configError : UsageError.LineOf(parse);
            if (line is null)
            {
                parsed.Add(fuzz);
                continue;
            }

            parseErrors.Add(fuzz);
            if (line.Contains('\n', StringComparison.Ordinal) || !line.StartsWith($"quicpipe {fuzz.Command}: ", StringComparison.Ordinal) || !fuzz.Names(line))
            {
                inProcess.Add($"{fuzz}: not one line naming the command and the flag or the value: {line}");
            }
        }

        Assert.True(inProcess.Count == 0, $"{inProcess.Count} cases:\n{string.Join('\n', inProcess.Take(30))}");

        // Per flag, a few of the values its parser accepted (those that end in a file or device first), and a sample
        // of the refused ones: every flag reaches the real program, within a bounded number of runs.
        var random = new Random(Seed);
        string[] endless = ["/dev/zero", "@/dev/zero", _scratch.Directory, _large];
        var accepted = parsed.GroupBy(c => (c.Command, c.Flag))
            .SelectMany(flag => flag.OrderBy(c => endless.Contains(c.Value) ? 0 : 1).ThenBy(_ => random.Next()).Take(AcceptedPerFlag));
        var runs = accepted.Concat(random.GetItems(parseErrors.ToArray(), Math.Min(SampledParseErrors, parseErrors.Count))).Distinct().ToList();
        Assert.True(runs.Count <= MaxProcessRuns, $"{runs.Count} process runs: more than {MaxProcessRuns} would take too long; sample the accepted values");
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var durations = new System.Collections.Concurrent.ConcurrentBag<(TimeSpan, Case)>();
        await Parallel.ForEachAsync(runs, new ParallelOptions { MaxDegreeOfParallelism = 3 }, async (fuzz, cancellationToken) =>
        {
            var run = Stopwatch.StartNew();
            if (await RunAsync(fuzz) is { } failure)
            {
                failures.Add(failure);
            }

            durations.Add((run.Elapsed, fuzz));
        });
        foreach (var (took, fuzz) in durations.OrderByDescending(d => d.Item1).Take(5))
        {
            _output.WriteLine($"slowest: {took.TotalSeconds:0.0} s {fuzz}");
        }

        _output.WriteLine($"seed {Seed}: {cases.Count} cases parsed in-process ({parseErrors.Count} refused by the parser), {runs.Count} run as processes ({runs.Select(r => (r.Command, r.Flag)).Distinct().Count()} flags), in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.IsEmpty, $"seed {Seed}:\n{string.Join('\n', failures)}");
        Assert.True(cases.Count > 500, $"only {cases.Count} cases: the command tree was not read");
    }

    /// <summary>Runs the real program on <paramref name="fuzz"/>; null if it answered one line and exit 2 (or a documented 1).</summary>
    private async Task<string?> RunAsync(Case fuzz)
    {
        var start = CliTestKit.QuicpipeStartInfo(fuzz.Arguments);
        start.WorkingDirectory = _scratch.Directory;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(PerRun);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return $"{fuzz}: still running after {PerRun.TotalSeconds} s (the value started the command)";
        }

        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 1 && process.ExitCode == 2 && !lines[0].Contains("Unhandled exception", StringComparison.Ordinal)
            && lines[0].StartsWith($"quicpipe {fuzz.Command}: ", StringComparison.Ordinal) && (await stdout).Length == 0
            ? null
            : $"{fuzz}: exit {process.ExitCode}, stderr ({lines.Length} lines): {string.Join(" | ", lines.Take(4))}";
    }

    private IEnumerable<Case> Cases()
    {
        var root = QuicpipeCommand.Create();
        foreach (var command in root.Subcommands)
        {
            Assert.True(BaseOf(command.Name) is not null, $"'{command.Name}' has no base invocation in {nameof(CommandLineFuzzTests)}: add one");
            var (positionals, options) = BaseOf(command.Name)!.Value;
            Assert.Equal(command.Arguments.Count, positionals.Length);
            foreach (var option in command.Options.Where(o => o is not HelpOption and not VersionOption))
            {
                foreach (var value in Values())
                {
                    var flags = options.Where(pair => pair.Key != option.Name).SelectMany(pair => new[] { pair.Key, pair.Value });
                    yield return new Case(command.Name, option.Name, value, [command.Name, .. positionals, .. flags, option.Name, value]);
                }
            }

            for (var i = 0; i < command.Arguments.Count; i++)
            {
                foreach (var value in Values())
                {
                    var given = positionals.ToArray();
                    given[i] = value;
                    yield return new Case(command.Name, command.Arguments[i].Name, value, [command.Name, .. given, .. options.SelectMany(pair => new[] { pair.Key, pair.Value })]);
                }
            }
        }
    }

    /// <summary>A valid invocation of <paramref name="command"/> but for its key file, which is too open (or, for keygen, exists).</summary>
    private (string[] Positionals, Dictionary<string, string> Options)? BaseOf(string command)
    {
        Dictionary<string, string> Peer(params (string, string)[] more) =>
            new[] { ("--relay", "127.0.0.1:9"), ("--key", _openKey), ("--timeout", "2s") }.Concat(more).ToDictionary(p => p.Item1, p => p.Item2);

        return command switch
        {
            "relay" => ([], new() { ["--listen"] = "127.0.0.1:0", ["--key"] = _openKey, ["--stats-interval"] = "0", ["--threads"] = "1" }),
            "keygen" => ([], new() { ["--out"] = _existing }),
            "dial" => ([NodeB], Peer()),
            "accept" => ([], Peer(("--allow", NodeA))),
            "forward" => ([CliTestKit.FreeTcpPort().ToString(CultureInfo.InvariantCulture), $"{NodeB}:8000"], Peer()),
            "expose" => (["8000"], Peer(("--allow", NodeA))),
            "proxy" => ([], Peer(("--http", CliTestKit.FreeTcpPort().ToString(CultureInfo.InvariantCulture)))),
            "mesh" => ([], Peer(("--neighbor", NodeB))),
            "vpn" => ([], Peer(("--address", "100.64.0.1/24"), ("--peer", $"{NodeB}=100.64.0.2/32"), ("--tun", "qpfuzz0"))),
            _ => null,
        };
    }

    /// <summary>Boundary values, then seeded random ones: numbers of every size and shape, paths to what is not a file.</summary>
    private IEnumerable<string> Values()
    {
        string[] boundary =
        [
            string.Empty, " ", "-1", "0", "1e6", "99999999999", "2147483648", "-2147483649", "1.5", "0x10", "NaN", "abc",
            "100d", "-", "--", "@/nonexistent", "@/dev/zero", $"@{_scratch.Directory}", "/nonexistent/dir/file",
            _scratch.Directory, "/dev/zero", _large, new string('a', 4096), "127.0.0.1:99999", "a:b:c", "%s%n", "é∞",
        ];
        var random = new Random(Seed);
        var randomValues = Enumerable.Range(0, 6).Select(i => i % 2 == 0
            ? random.NextInt64(long.MinValue, long.MaxValue).ToString(CultureInfo.InvariantCulture)
            : new string(Enumerable.Range(0, random.Next(1, 24)).Select(_ => (char)random.Next(0x21, 0x7f)).ToArray()));
        return boundary.Concat(randomValues).Distinct();
    }

    private static bool IsPlainFileName(string value) =>
        value.Length is > 0 and < 255 && !value.StartsWith('-') && !value.StartsWith('@') && value.Trim().Length == value.Length
        && value.IndexOfAny(['/', '\0']) < 0 && value is not ("." or "..");

    /// <summary>One run: <paramref name="Flag"/> of <paramref name="Command"/> given <paramref name="Value"/>.</summary>
    private sealed record Case(string Command, string Flag, string Value, string[] Arguments)
    {
        public bool Names(string line) =>
            line.Contains(Flag, StringComparison.Ordinal) || line.Contains($"'{Value}'", StringComparison.Ordinal)
            || (Value.Trim().Length > 0 && line.Contains(Value.Trim().Length > 64 ? Value.Trim()[..64] : Value.Trim(), StringComparison.Ordinal));

        public override string ToString() => $"quicpipe {string.Join(' ', Arguments.Select(a => a.Length > 40 ? a[..40] + "..." : a.Length == 0 || a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a))}";
    }
}
