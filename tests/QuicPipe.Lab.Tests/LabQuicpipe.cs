using System.Diagnostics;
using System.Security.Cryptography;

namespace QuicPipe.Lab.Tests;

/// <summary>
/// One real quicpipe process (<c>dotnet quicpipe.dll ...</c>) inside a lab host. Its stderr is kept as lines stamped
/// with the time they arrived on a clock the caller shares across processes (so "within 2 s of that line" can be
/// measured); its stdout is counted and hashed as it arrives, so 100 MB never sits in memory.
/// </summary>
internal sealed class LabQuicpipe : IDisposable
{
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly List<TimedLine> _stderr = [];
    private readonly IncrementalHash _stdoutHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Task _stdoutPump;
    private long _stdoutBytes;
    private long _firstStdoutTicks = -1;

    private LabQuicpipe(Process process, Stopwatch clock)
    {
        _process = process;
        _clock = clock;
        _process.ErrorDataReceived += (_, e) => OnStderr(e.Data);
        _process.BeginErrorReadLine();
        _stdoutPump = Task.Run(PumpStdoutAsync);
    }

    /// <summary>quicpipe.dll, copied beside the tests by the project reference to QuicPipe.Cli.</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "quicpipe.dll");

    public Stream Stdin => _process.StandardInput.BaseStream;

    public long StdoutBytes => Interlocked.Read(ref _stdoutBytes);

    /// <summary>When the first stdout byte arrived, on the shared clock; null before.</summary>
    public TimeSpan? FirstStdoutAt => Interlocked.Read(ref _firstStdoutTicks) is var t and >= 0 ? TimeSpan.FromTicks(t) : null;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Every stderr line so far, for failure messages.</summary>
    public string AllStderr
    {
        get
        {
            lock (_stderr)
            {
                return string.Join('\n', _stderr);
            }
        }
    }

    public static LabQuicpipe Start(NatLab lab, LabHost host, Stopwatch clock, params string[] args) =>
        new(lab.Start(host, ["dotnet", Dll, .. args]), clock);

    /// <summary>The stderr lines so far that satisfy <paramref name="match"/>, oldest first.</summary>
    public IReadOnlyList<TimedLine> Lines(Func<string, bool> match)
    {
        lock (_stderr)
        {
            return _stderr.Where(l => match(l.Text)).ToArray();
        }
    }

    /// <summary>The first stderr line that satisfies <paramref name="match"/>, waiting up to <paramref name="timeout"/>; null if none came (or the process ended without one).</summary>
    public TimedLine? WaitForLine(Func<string, bool> match, TimeSpan timeout) => WaitForLine(line => match(line.Text), timeout);

    /// <inheritdoc cref="WaitForLine(Func{string, bool}, TimeSpan)"/>
    public TimedLine? WaitForLine(Func<TimedLine, bool> match, TimeSpan timeout)
    {
        var deadline = _clock.Elapsed + timeout;
        lock (_stderr)
        {
            while (true)
            {
                foreach (var line in _stderr)
                {
                    if (match(line))
                    {
                        return line;
                    }
                }

                var left = deadline - _clock.Elapsed;
                if (left <= TimeSpan.Zero || _process.HasExited)
                {
                    return null;
                }

                // Woken by each new line; the 100 ms cap notices an exit without a line.
                Monitor.Wait(_stderr, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
            }
        }
    }

    /// <summary>Waits for exit and for stdout to drain; false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return false;
        }

        _process.WaitForExit(); // drains the redirected stderr
        return _stdoutPump.Wait(timeout);
    }

    /// <summary>SHA-256 of everything written to stdout (complete after <see cref="WaitForExit"/>).</summary>
    public byte[] StdoutSha256() => _stdoutHash.GetCurrentHash();

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        _stdoutHash.Dispose();
    }

    private void OnStderr(string? text)
    {
        if (text is null)
        {
            return;
        }

        lock (_stderr)
        {
            _stderr.Add(new TimedLine(_clock.Elapsed, text));
            Monitor.PulseAll(_stderr);
        }
    }

    private async Task PumpStdoutAsync()
    {
        var buffer = new byte[64 * 1024];
        var stdout = _process.StandardOutput.BaseStream;
        while (await stdout.ReadAsync(buffer) is var read and > 0)
        {
            Interlocked.CompareExchange(ref _firstStdoutTicks, _clock.Elapsed.Ticks, -1);
            _stdoutHash.AppendData(buffer, 0, read);
            Interlocked.Add(ref _stdoutBytes, read);
        }
    }
}
