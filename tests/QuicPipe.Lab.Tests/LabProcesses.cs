using System.Diagnostics;
using QuicPipe.Quic;
using Xunit.Sdk;

namespace QuicPipe.Lab.Tests;

/// <summary>
/// quicpipe processes a lab test runs in its hosts, starting with the relay in R: their identity files in a scratch
/// directory, one clock that stamps every stderr line, and failure messages that show every process's stderr.
/// Dispose kills whatever still runs and removes the identity files.
/// </summary>
internal abstract class LabProcesses : IDisposable
{
    /// <summary>Outside 20000-29999, the NATs' external range, so a mapping is never mistaken for an internal port.</summary>
    public const int RelayPort = 7000;

    /// <summary>dotnet start-up plus registration on a busy 2-core machine.</summary>
    public static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    private readonly List<LabQuicpipe> _processes = [];

    protected LabProcesses(NatLab lab, string directoryPrefix)
    {
        Lab = lab;
        Directory = System.IO.Directory.CreateTempSubdirectory(directoryPrefix).FullName;
        RelayKey = Identity("relay");
    }

    public static string RelayAddress => $"{NatLab.AddressOf(LabHost.R)}:{RelayPort}";

    public NatLab Lab { get; }

    /// <summary>The scratch directory: identity files, and whatever the test keeps beside them.</summary>
    public string Directory { get; }

    /// <summary>Zero when the processes' set was created; every stderr line is stamped on it.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public LabQuicpipe Relay { get; private set; } = null!;

    protected (string File, string Id) RelayKey { get; }

    /// <summary>The first line of <paramref name="process"/> that matches, or a test failure showing every process's stderr.</summary>
    public TimedLine Expect(LabQuicpipe process, Func<string, bool> match, string what, TimeSpan? timeout = null) =>
        process.WaitForLine(match, timeout ?? Startup) ?? throw new XunitException($"{what} within {(timeout ?? Startup).TotalSeconds} s\n{Describe()}");

    /// <summary>Every process's stderr, for failure messages.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        foreach (var (name, process) in Named())
        {
            if (process is not null)
            {
                parts.Add($"--- {name} (now {Clock.Elapsed.TotalSeconds:0.000} s):\n{process.AllStderr}");
            }
        }

        return string.Join('\n', parts);
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>The processes by the names failure messages give them (null: not started).</summary>
    protected abstract IEnumerable<(string Name, LabQuicpipe? Process)> Named();

    /// <summary>Starts the relay in R and waits until it runs.</summary>
    protected void StartRelay()
    {
        Relay = Run(LabHost.R, "relay", "--listen", RelayAddress, "--key", RelayKey.File, "--threads", "1", "--stats-interval", "0");
        Expect(Relay, l => l.Contains("Relay running", StringComparison.Ordinal), "relay did not start");
    }

    protected LabQuicpipe Run(LabHost host, params string[] args)
    {
        var process = LabQuicpipe.Start(Lab, host, Clock, args);
        _processes.Add(process);
        return process;
    }

    protected (string File, string Id) Identity(string name)
    {
        var file = Path.Combine(Directory, name + ".key");
        var identity = NodeIdentity.Generate();
        identity.SaveKeyFile(file);
        return (file, identity.NodeId.ToString());
    }
}
