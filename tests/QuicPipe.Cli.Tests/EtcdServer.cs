using System.Diagnostics;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// Debian's etcd on loopback with a data directory of its own: started, stopped and started again on the same data
/// (a directory restart), and read with Debian's etcdctl.
/// </summary>
internal sealed class EtcdServer : IDisposable
{
    public const string Etcd = "/usr/bin/etcd";
    public const string Etcdctl = "/usr/bin/etcdctl";

    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private readonly string _dataDirectory;
    private readonly int _clientPort = CliTestKit.FreeTcpPort();
    private readonly int _peerPort = CliTestKit.FreeTcpPort();
    private Process? _process;

    public EtcdServer(string directory)
    {
        _dataDirectory = Path.Combine(directory, "etcd");
        Start();
    }

    /// <summary>What relays give as <c>--directory</c>.</summary>
    public string Url => $"etcd://127.0.0.1:{_clientPort}";

    private string Endpoint => $"127.0.0.1:{_clientPort}";

    /// <summary>Starts etcd (again) on the same data directory and waits until it answers.</summary>
    public void Start()
    {
        var start = new ProcessStartInfo(Etcd)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--data-dir", _dataDirectory,
            "--listen-client-urls", $"http://{Endpoint}",
            "--advertise-client-urls", $"http://{Endpoint}",
            "--listen-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{_peerPort}",
            "--initial-cluster", $"default=http://127.0.0.1:{_peerPort}",
        })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"{Etcd} did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Assert.True(SpinWait.SpinUntil(() => Answers() || _process.HasExited, Startup) && !_process.HasExited, $"etcd did not answer on {Endpoint} within {Startup}");
    }

    /// <summary>Stops etcd (SIGKILL: the store must survive an abrupt end as well as a clean one).</summary>
    public void Stop()
    {
        if (_process is { } process)
        {
            process.Kill();
            process.WaitForExit(10_000);
            process.Dispose();
            _process = null;
        }
    }

    /// <summary>The keys under <paramref name="prefix"/> now.</summary>
    public IReadOnlyList<string> Keys(string prefix)
    {
        var (code, stdout, stderr) = RunEtcdctl("get", "--prefix", "--keys-only", prefix);
        Assert.True(code == 0, $"etcdctl get: {stderr}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public void Dispose()
    {
        Stop();
    }

    private bool Answers()
    {
        try
        {
            return RunEtcdctl("endpoint", "health").ExitCode == 0;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private (int ExitCode, string Stdout, string Stderr) RunEtcdctl(params string[] args)
    {
        var environment = new Dictionary<string, string> { ["ETCDCTL_API"] = "3" };
        return ToolProcess.RunAsync(Etcdctl, ["--endpoints", Endpoint, "--dial-timeout", "2s", "--command-timeout", "3s", .. args], TimeSpan.FromSeconds(15), environment).GetAwaiter().GetResult();
    }
}

/// <summary>A fact that is skipped, with the reason, where Debian's etcd is not installed.</summary>
internal sealed class RequiresEtcdFactAttribute : FactAttribute
{
    public RequiresEtcdFactAttribute()
    {
        if (!File.Exists(EtcdServer.Etcd) || !File.Exists(EtcdServer.Etcdctl))
        {
            Skip = $"{EtcdServer.Etcd} or {EtcdServer.Etcdctl} is not installed (Debian packages etcd-server and etcd-client; scripts/setup.sh installs them).";
        }
    }
}
