using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace QuicPipe.Lab;

/// <summary>
/// One NAT lab (tests/lab/natlab.sh): peers A and B, each behind its own NAT router, and a relay R on
/// a public segment, all in network namespaces named after <see cref="Name"/>. Every address lives
/// inside those namespaces; the host's network is never touched. Dispose removes the lab.
/// </summary>
public sealed class NatLab : IDisposable
{
    /// <summary>Names start with this, then random hex: short, and unlike anyone else's namespaces.</summary>
    public const string NamePrefix = "ql";

    private static readonly TimeSpan UpTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DownTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(10);

    private readonly List<Process> _started = []; // processes Start made; killed on Dispose
    private bool _disposed;

    private NatLab(string name, NatKind natA, NatKind natB)
    {
        Name = name;
        NatA = natA;
        NatB = natB;
    }

    /// <summary>True when this machine can build labs (root, namespaces, ip, nft, conntrack).</summary>
    public static bool IsSupported => UnsupportedReason is null;

    /// <summary>Why labs cannot be built here, or null when they can.</summary>
    public static string? UnsupportedReason => LabSupport.UnsupportedReason;

    /// <summary>R's second address: "another public host" as far as a NAT's filter can tell.</summary>
    public static IPAddress RelaySecondAddress { get; } = IPAddress.Parse("198.18.0.11");

    /// <summary>The lab's name; each namespace is this plus "-" plus the host (a, b, r, nata, natb, pub).</summary>
    public string Name { get; }

    public NatKind NatA { get; }

    public NatKind NatB { get; }

    /// <summary>Builds a lab with a fresh name. If building fails, whatever was built is removed.</summary>
    /// <exception cref="InvalidOperationException">The script failed; the message holds its output.</exception>
    public static NatLab Create(NatKind natA, NatKind natB)
    {
        var lab = new NatLab(NamePrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)), natA, natB);
        try
        {
            lab.Script(UpTimeout, "up", lab.Name, "--nat-a", natA.ScriptName(), "--nat-b", natB.ScriptName());
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>A host's address: the peers' private ones, the routers' public ones, R's first one.</summary>
    public static IPAddress AddressOf(LabHost host) => IPAddress.Parse(host switch
    {
        LabHost.A => "10.77.1.2",
        LabHost.B => "10.77.2.2",
        LabHost.R => "198.18.0.10",
        LabHost.NatA => "198.18.0.1",
        LabHost.NatB => "198.18.0.2",
        _ => throw new ArgumentOutOfRangeException(nameof(host), host, null),
    });

    /// <summary>The names of every network namespace on this machine (`ip netns list`).</summary>
    public static IReadOnlyList<string> ListNamespaces()
    {
        var result = LabCommand.Run("ip", ["netns", "list"], ExecTimeout);
        return result.StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')[0])
            .ToArray();
    }

    /// <summary>The network namespace a host lives in.</summary>
    public string NamespaceOf(LabHost host) => $"{Name}-{ScriptHost(host)}";

    /// <summary>Runs a command inside a host's namespace to completion (10 s at most by default).</summary>
    /// <exception cref="TimeoutException">The command outlived the timeout; it was killed.</exception>
    public LabResult Exec(LabHost host, params string[] args) => Exec(host, ExecTimeout, args);

    /// <inheritdoc cref="Exec(LabHost, string[])"/>
    public LabResult Exec(LabHost host, TimeSpan timeout, params string[] args)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return LabCommand.Run("ip", ["netns", "exec", NamespaceOf(host), .. args], timeout);
    }

    /// <summary>
    /// Starts a command inside a host's namespace, output redirected. The caller owns (disposes) the
    /// process; the lab kills it, and anything it forked, on Dispose in any case.
    /// </summary>
    public Process Start(LabHost host, params string[] args)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = LabCommand.StartInfo("ip", ["netns", "exec", NamespaceOf(host), .. args]);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {string.Join(' ', args)}");
        lock (_started)
        {
            _started.Add(process);
        }

        return process;
    }

    /// <summary>
    /// Makes a router forget every mapping (conntrack -F, plus the nft state behind full-cone and
    /// address-restricted filtering): NAT rebinding. The next outbound packet gets a fresh mapping.
    /// </summary>
    public void FlushConntrack(LabHost router)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (router is not (LabHost.NatA or LabHost.NatB))
        {
            throw new ArgumentOutOfRangeException(nameof(router), router, "only NatA and NatB are routers");
        }

        Script(ExecTimeout, "flush", Name, ScriptHost(router));
    }

    /// <summary>A UDP socket created inside a host's namespace and bound to <paramref name="local"/> there.</summary>
    public Socket OpenUdp(LabHost host, IPEndPoint local)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return NetNamespace.Run(NamespaceOf(host), () =>
        {
            var socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.Bind(local);
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        });
    }

    /// <summary>Kills what <see cref="Start"/> started and removes every namespace of the lab.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        lock (_started)
        {
            foreach (var process in _started)
            {
                try
                {
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                        process.WaitForExit(DownTimeout);
                    }
                }
                catch (InvalidOperationException)
                {
                    // Already gone, or the caller disposed it.
                }
            }
        }

        // The script also kills anything else left inside; a failure here shows in the tests'
        // namespace checks, not as an exception out of Dispose.
        try
        {
            Script(DownTimeout, "down", Name);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            Trace.WriteLine($"natlab down {Name}: {e.Message}");
        }
    }

    private static string ScriptHost(LabHost host) => host switch
    {
        LabHost.A => "a",
        LabHost.B => "b",
        LabHost.R => "r",
        LabHost.NatA => "nata",
        LabHost.NatB => "natb",
        _ => throw new ArgumentOutOfRangeException(nameof(host), host, null),
    };

    private void Script(TimeSpan timeout, params string[] args)
    {
        var result = LabCommand.Run("bash", [LabSupport.ScriptPath, .. args], timeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"natlab.sh {string.Join(' ', args)} exited with {result.ExitCode}: {result.StandardError.Trim()}");
        }
    }
}
