using System.Diagnostics;

namespace QuicPipe.Cli.Tests;

/// <summary>Runs a real tool (curl, iperf3, python3) to completion, bounded in time, and returns what it said.</summary>
internal static class ToolProcess
{
    // environment: variables set for the tool after the proxy variables are cleared (e.g. a test's own http_proxy).
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, TimeSpan limit, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Proxies from the environment must not change where the tools connect: every test names its proxy itself.
        foreach (var name in new[] { "http_proxy", "https_proxy", "all_proxy", "grpc_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY" })
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start (is it installed? scripts/setup.sh installs it)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not end within {limit}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
