using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary><c>--help</c> of every command and <c>--version</c>, read from the real program's output.</summary>
public sealed partial class HelpAndVersionTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>The root ("") and every command the program has, so a command added later is checked too.</summary>
    public static TheoryData<string> Commands() => [.. QuicpipeCommand.Create().Subcommands.Select(c => c.Name).Prepend("")];

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_prints_no_clock_style_duration(string command)
    {
        var help = Help(command);

        Assert.DoesNotMatch(ClockDuration(), help);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_ends_with_one_example_that_the_command_itself_accepts(string command)
    {
        var lines = Help(command).Split('\n').Select(l => l.TrimEnd()).ToArray();

        var at = Assert.Single(lines.Index(), l => l.Item == "Example:").Index;
        var example = lines[at + 1].Trim();
        Assert.StartsWith(command.Length == 0 ? "quicpipe " : $"quicpipe {command} ", example, StringComparison.Ordinal);

        // Parsed by the program's own command tree as a shell would pass it (redirections are the shell's).
        var words = example.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];
        var arguments = words.Where((w, i) => w is not ("<" or ">") && (i == 0 || words[i - 1] is not ("<" or ">"))).ToArray();
        var parse = QuicpipeCommand.Create().Parse(arguments);
        Assert.True(parse.Errors.Count == 0, $"{example}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        Assert.NotNull(parse.CommandResult.Command.Action);
        if (command.Length > 0)
        {
            Assert.Equal(command, parse.CommandResult.Command.Name);
        }
    }

    [Fact]
    public void Duration_defaults_print_as_people_write_them()
    {
        Assert.Contains("[default: 10s]", Help("relay"), StringComparison.Ordinal);
        Assert.Contains("[default: 30s]", Help("dial"), StringComparison.Ordinal);
        Assert.Contains("[default: 0]", Help("vpn"), StringComparison.Ordinal);
    }

    [Fact]
    public void Version_names_the_library_versions_this_machine_has_installed()
    {
        var (code, stdout, stderr) = RelayProcess.Run(Limit, "--version");

        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("quicpipe ", lines[0], StringComparison.Ordinal);
        var versions = lines.Skip(1).Select(l => l.Split(": ", 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(["ngtcp2", "GnuTLS", "libbpf"], versions.Keys);

        // What the loaded libraries say must be what the package manager installed: a hard-coded or compile-time
        // version fails here as soon as the two differ.
        Assert.Equal(UpstreamVersion(Ngtcp2Package()), versions["ngtcp2"]);
        Assert.Equal(UpstreamVersion(GnuTlsPackage()), versions["GnuTLS"]);
        var libbpf = InstalledPackages().FirstOrDefault(p => LibBpfPackage().IsMatch(p.Name));
        if (libbpf.Name is null)
        {
            Assert.Equal("not found", versions["libbpf"]);
        }
        else
        {
            // libbpf reports major.minor only (libbpf_version_string): "1.1" for the package's 1.1.2.
            var upstream = UpstreamVersion(libbpf.Version);
            Assert.Matches(@"^\d+\.\d+$", versions["libbpf"]);
            Assert.True(upstream == versions["libbpf"] || upstream.StartsWith(versions["libbpf"] + ".", StringComparison.Ordinal), $"libbpf: {versions["libbpf"]}, package {libbpf.Version}");
        }
    }

    private static string Help(string command)
    {
        // Exit 0 even for commands with required options: help is an answer, not a usage error.
        var (code, stdout, stderr) = command.Length == 0 ? RelayProcess.Run(Limit, "--help") : RelayProcess.Run(Limit, command, "--help");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        return stdout;
    }

    private static string Ngtcp2Package() => InstalledPackages().First(p => Ngtcp2Runtime().IsMatch(p.Name)).Version;

    private static string GnuTlsPackage() => InstalledPackages().First(p => GnuTlsRuntime().IsMatch(p.Name)).Version;

    /// <summary>Debian's version without epoch, repack suffix and revision: 1:1.1.2-0+deb12u1 -> 1.1.2, 0.12.1+dfsg-1 -> 0.12.1.</summary>
    private static string UpstreamVersion(string debian) => UpstreamPart().Match(debian).Groups["upstream"].Value;

    private static List<(string Name, string Version)> InstalledPackages()
    {
        var start = new ProcessStartInfo("dpkg-query") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-W", "-f=${Package} ${Version} ${db:Status-Status}\\n", "libngtcp2-*", "libgnutls*", "libbpf*" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' '))
            .Where(f => f.Length == 3 && f[1].Length > 0 && f[2] == "installed")
            .Select(f => (f[0], f[1]))];
    }

    [GeneratedRegex(@"\b\d{1,2}:\d{2}:\d{2}\b")]
    private static partial Regex ClockDuration();

    [GeneratedRegex(@"^libngtcp2-\d+$")]
    private static partial Regex Ngtcp2Runtime();

    [GeneratedRegex(@"^libgnutls\d+$")]
    private static partial Regex GnuTlsRuntime();

    [GeneratedRegex(@"^libbpf\d+$")]
    private static partial Regex LibBpfPackage();

    [GeneratedRegex(@"^(?:\d+:)?(?<upstream>\d+(?:\.\d+)*)")]
    private static partial Regex UpstreamPart();
}
