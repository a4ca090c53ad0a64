using System.Diagnostics;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// The unit files under deploy/systemd pass <c>systemd-analyze verify</c> (scripts/setup.sh installs systemd). The
/// verifier also checks that ExecStart's program exists and is executable, and the units name where an operator
/// installs quicpipe (/opt/quicpipe), so each is verified as a copy whose ExecStart points at the quicpipe launcher
/// built beside these tests; a template unit (<c>NAME@.service</c>) is verified as an instance. The verifier exits 0
/// on an unknown key or a bad value and only prints a warning, so any output counts as a failure too.
/// </summary>
public sealed class SystemdUnitTests : IDisposable
{
    private const string InstalledLauncher = "/opt/quicpipe/quicpipe";
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-units-").FullName;

    public static TheoryData<string> Units() => new(Directory.GetFiles(UnitDirectory(), "*.service").Select(Path.GetFileName).OfType<string>());

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [MemberData(nameof(Units))]
    public void The_unit_passes_systemd_analyze_verify(string unit)
    {
        var text = File.ReadAllText(Path.Combine(UnitDirectory(), unit));
        Assert.Contains($"ExecStart={InstalledLauncher} ", text, StringComparison.Ordinal);
        Assert.Contains("Type=notify", text, StringComparison.Ordinal);
        Assert.Contains("Restart=on-failure", text, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivileges=yes", text, StringComparison.Ordinal);
        Assert.Contains("MemoryDenyWriteExecute=no", text, StringComparison.Ordinal);

        var (code, output) = Verify(unit, text);

        Assert.True(code == 0 && output.Length == 0, $"systemd-analyze verify {unit}: exit {code}\n{output}");
    }

    [Theory]
    [InlineData("NoNewPrivileges=yes", "NoNewPrivilege=yes")]
    [InlineData("Restart=on-failure", "Restart=sometimes")]
    [InlineData("ExecStart=" + InstalledLauncher, "ExecStart=/nonexistent/quicpipe")]
    public void A_broken_unit_fails_the_same_check(string good, string broken)
    {
        var text = File.ReadAllText(Path.Combine(UnitDirectory(), "quicpipe-relay.service")).Replace(good, broken, StringComparison.Ordinal);

        var (code, output) = Verify("quicpipe-relay.service", text);

        Assert.False(code == 0 && output.Length == 0, "the verifier found nothing wrong with a broken unit");
    }

    private (int Code, string Output) Verify(string unit, string text)
    {
        var launcher = Path.Combine(AppContext.BaseDirectory, "quicpipe");
        Assert.True(File.Exists(launcher), $"no quicpipe launcher at {launcher}");
        var name = unit.EndsWith("@.service", StringComparison.Ordinal) ? unit.Replace("@.service", "@test.service", StringComparison.Ordinal) : unit;
        var copy = Path.Combine(_directory, name);
        File.WriteAllText(copy, text.Replace("ExecStart=" + InstalledLauncher, "ExecStart=" + launcher, StringComparison.Ordinal));

        var start = new ProcessStartInfo("systemd-analyze")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "verify", "--man=no", "--generators=no", copy })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("systemd-analyze did not start (scripts/setup.sh installs systemd)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "systemd-analyze did not finish");
        return (process.ExitCode, (stdout.Result + stderr).Trim());
    }

    private static string UnitDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var units = Path.Combine(directory.FullName, "deploy", "systemd");
            if (Directory.Exists(units))
            {
                return units;
            }
        }

        throw new InvalidOperationException($"no deploy/systemd above {AppContext.BaseDirectory}");
    }
}
