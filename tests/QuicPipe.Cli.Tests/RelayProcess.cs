using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace QuicPipe.Cli.Tests;

/// <summary>The real <c>quicpipe</c> program as a child process, with its output captured and signals to send it.</summary>
internal sealed partial class RelayProcess : IDisposable
{
    public const int SigHup = 1;
    public const int SigInt = 2;
    public const int SigTerm = 15;
    public const int SigKill = 9;

    private readonly Process _process;
    private bool _disposed;

    private RelayProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(Stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(Stderr, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public ConcurrentQueue<string> Stdout { get; } = new();

    public ConcurrentQueue<string> Stderr { get; } = new();

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string AllStderr => string.Join('\n', Stderr);

    public static RelayProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <summary>Starts quicpipe with <paramref name="environment"/> added to the test's own.</summary>
    public static RelayProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = CliTestKit.QuicpipeStartInfo(args);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return new RelayProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>Runs quicpipe to completion (bounded) and returns its exit code.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(TimeSpan timeout, params string[] args) =>
        Run(timeout, new Dictionary<string, string>(), args);

    /// <summary>Runs quicpipe with <paramref name="environment"/> added, to completion (bounded).</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using var process = Start(environment, args);
        if (!process.WaitForExit(timeout))
        {
            throw new TimeoutException($"quicpipe {string.Join(' ', args)} did not exit within {timeout}");
        }

        return (process.ExitCode, string.Join('\n', process.Stdout), process.AllStderr);
    }

    public void Signal(int signal) => Signal(_process.Id, signal);

    /// <summary>kill(2): sends <paramref name="signal"/> to the process <paramref name="pid"/>.</summary>
    public static void Signal(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return false;
        }

        _process.WaitForExit(); // drains the redirected output
        return true;
    }

    /// <summary>Waits until a line of stderr satisfies <paramref name="match"/>.</summary>
    public bool WaitForStderr(Func<string, bool> match, TimeSpan timeout) =>
        SpinWait.SpinUntil(() => Stderr.Any(match) || _process.HasExited, timeout) && Stderr.Any(match);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
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

    // int kill(pid_t pid, int sig);
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
