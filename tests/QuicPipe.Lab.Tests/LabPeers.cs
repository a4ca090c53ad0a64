using System.Diagnostics;
using QuicPipe.Quic;
using Xunit.Sdk;

namespace QuicPipe.Lab.Tests;

/// <summary>
/// The three quicpipe processes of a NAT traversal, as a user runs them: <c>relay</c> in R, <c>accept</c> in B
/// (allowing A), <c>dial</c> in A (started by the test, when it wants). Their stderr shares one clock. Dispose kills
/// whatever still runs and removes the identity files.
/// </summary>
internal sealed class LabPeers : IDisposable
{
    /// <summary>Outside 20000-29999, the NATs' external range, so a mapping is never mistaken for an internal port.</summary>
    public const int RelayPort = 7000;

    /// <summary>dotnet start-up plus registration on a busy 2-core machine.</summary>
    public static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);

    private readonly NatLab _lab;
    private readonly string _directory;
    private readonly List<LabQuicpipe> _processes = [];
    private readonly (string File, string Id) _relayKey;
    private readonly (string File, string Id) _dialerKey;
    private readonly (string File, string Id) _accepterKey;

    private LabPeers(NatLab lab)
    {
        _lab = lab;
        _directory = Directory.CreateTempSubdirectory("quicpipe-lab-").FullName;
        _relayKey = Identity("relay");
        _dialerKey = Identity("a");
        _accepterKey = Identity("b");
    }

    public static string RelayAddress => $"{NatLab.AddressOf(LabHost.R)}:{RelayPort}";

    /// <summary>Zero when the peers were created; every stderr line is stamped on it.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public LabQuicpipe Relay { get; private set; } = null!;

    public LabQuicpipe Accept { get; private set; } = null!;

    /// <summary>Started by <see cref="StartDial"/>.</summary>
    public LabQuicpipe? Dial { get; private set; }

    /// <summary>Starts the relay in R and the accepter in B, and waits until B is registered with the relay.</summary>
    public static LabPeers Start(NatLab lab)
    {
        var peers = new LabPeers(lab);
        try
        {
            peers.Relay = peers.Run(LabHost.R, "relay", "--listen", RelayAddress, "--key", peers._relayKey.File, "--threads", "1", "--stats-interval", "0");
            peers.Expect(peers.Relay, l => l.Contains("Relay running", StringComparison.Ordinal), "relay did not start");
            peers.Accept = peers.Run(
                LabHost.B, "accept", "--relay", RelayAddress, "--relay-id", peers._relayKey.Id, "--key", peers._accepterKey.File, "--allow", peers._dialerKey.Id);
            peers.Expect(peers.Accept, l => l.StartsWith("accepting as", StringComparison.Ordinal), "accept did not register");
            return peers;
        }
        catch
        {
            peers.Dispose();
            throw;
        }
    }

    /// <summary>Starts <c>quicpipe dial</c> in A toward B, with <paramref name="extra"/> flags.</summary>
    public LabQuicpipe StartDial(params string[] extra)
    {
        Dial = Run(LabHost.A, ["dial", "--relay", RelayAddress, "--relay-id", _relayKey.Id, "--key", _dialerKey.File, .. extra, _accepterKey.Id]);
        return Dial;
    }

    /// <summary>The first line of <paramref name="process"/> that matches, or a test failure showing every process's stderr.</summary>
    public TimedLine Expect(LabQuicpipe process, Func<string, bool> match, string what, TimeSpan? timeout = null) =>
        process.WaitForLine(match, timeout ?? Startup) ?? throw new XunitException($"{what} within {(timeout ?? Startup).TotalSeconds} s\n{Describe()}");

    /// <summary>Every process's stderr, for failure messages.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        foreach (var (name, process) in new[] { ("relay", Relay), ("accept", Accept), ("dial", Dial) })
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

        Directory.Delete(_directory, recursive: true);
    }

    private LabQuicpipe Run(LabHost host, params string[] args)
    {
        var process = LabQuicpipe.Start(_lab, host, Clock, args);
        _processes.Add(process);
        return process;
    }

    private (string File, string Id) Identity(string name)
    {
        var file = Path.Combine(_directory, name + ".key");
        var identity = NodeIdentity.Generate();
        identity.SaveKeyFile(file);
        return (file, identity.NodeId.ToString());
    }
}
