using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe dial</c> or <c>accept</c> as a child process with binary stdin and stdout: what it writes to stdout
/// is counted and hashed as it arrives (100 MB never sits in memory); stderr is kept as lines.
/// </summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly IncrementalHash _stdoutHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Task _stdoutPump;
    private readonly MemoryStream _stdoutHead = new();
    private long _stdoutBytes;

    private PeerProcess(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Stderr.Enqueue(e.Data);
                StderrTimes.Enqueue((DateTime.UtcNow, e.Data));
            }
        };
        _process.BeginErrorReadLine();
        _stdoutPump = Task.Run(PumpStdoutAsync);
    }

    public ConcurrentQueue<string> Stderr { get; } = new();

    /// <summary>Each stderr line with when it arrived, for tests that time what a process noticed.</summary>
    public ConcurrentQueue<(DateTime At, string Line)> StderrTimes { get; } = new();

    public string AllStderr => string.Join('\n', Stderr);

    public Stream Stdin => _process.StandardInput.BaseStream;

    public long StdoutBytes => Interlocked.Read(ref _stdoutBytes);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Sends a signal (<see cref="RelayProcess.SigTerm"/>, ...); SIGKILL is <see cref="KillAbruptly"/>.</summary>
    public void Signal(int signal) => RelayProcess.Signal(_process.Id, signal);

    /// <summary>SIGKILL: the process ends without a word to its peer or its relay, as on a crash or a power cut.</summary>
    public void KillAbruptly() => _process.Kill();

    public static PeerProcess Start(params string[] args) => StartIn(null, args);

    /// <summary>Starts quicpipe inside network namespace <paramref name="netns"/> (null: the test's own).</summary>
    public static PeerProcess StartIn(string? netns, params string[] args)
    {
        var start = CliTestKit.QuicpipeStartInfo(args, netns);
        return new PeerProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>Waits for exit and for stdout to drain; false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return false;
        }

        _process.WaitForExit();
        return _stdoutPump.Wait(timeout);
    }

    public bool WaitForStderr(Func<string, bool> match, TimeSpan timeout) =>
        SpinWait.SpinUntil(() => Stderr.Any(match) || _process.HasExited, timeout) && Stderr.Any(match);

    /// <summary>SHA-256 of everything the process wrote to stdout (call after <see cref="WaitForExit"/>).</summary>
    public byte[] StdoutSha256() => _stdoutHash.GetCurrentHash();

    /// <summary>The first bytes of stdout (up to 64 KiB), for text assertions.</summary>
    public string StdoutHead()
    {
        lock (_stdoutHead)
        {
            return System.Text.Encoding.UTF8.GetString(_stdoutHead.ToArray());
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        _stdoutHash.Dispose();
    }

    private async Task PumpStdoutAsync()
    {
        var buffer = new byte[64 * 1024];
        var stdout = _process.StandardOutput.BaseStream;
        while (true)
        {
            var read = await stdout.ReadAsync(buffer);
            if (read == 0)
            {
                return;
            }

            _stdoutHash.AppendData(buffer, 0, read);
            lock (_stdoutHead)
            {
                if (_stdoutHead.Length < 64 * 1024)
                {
                    _stdoutHead.Write(buffer, 0, (int)Math.Min(read, (64 * 1024) - _stdoutHead.Length));
                }
            }

            Interlocked.Add(ref _stdoutBytes, read);
        }
    }
}
