using System.Collections.Concurrent;
using System.Diagnostics;

namespace QuicPipe.Cli.Tests;

/// <summary>A long-running helper tool (iperf3 -s, a python server) whose output lines are kept; killed on dispose.</summary>
internal sealed class LineProcess : IDisposable
{
    private readonly Process _process;

    private LineProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(Stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(Stderr, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public ConcurrentQueue<string> Stdout { get; } = new();

    public ConcurrentQueue<string> Stderr { get; } = new();

    public string AllStderr => string.Join('\n', Stderr);

    public static LineProcess Start(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return new LineProcess(Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start (is it installed? scripts/setup.sh installs it)"));
    }

    public bool WaitForStdout(Func<string, bool> match, TimeSpan timeout) =>
        SpinWait.SpinUntil(() => Stdout.Any(match) || _process.HasExited, timeout) && Stdout.Any(match);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }

    private static void Append(ConcurrentQueue<string> lines, string? line)
    {
        if (line is not null)
        {
            lines.Enqueue(line);
        }
    }
}
