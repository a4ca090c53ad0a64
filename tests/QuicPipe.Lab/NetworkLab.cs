using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;

namespace QuicPipe.Lab;

/// <summary>
/// Two network namespaces made for one test, joined by a veth pair: the relay side (qxr0, 10.200.N.1/24)
/// and the peer side (qxp0, 10.200.N.2/24). Nothing outside them is touched; Dispose deletes both
/// namespaces, which destroys the veth pair with them.
/// </summary>
public sealed partial class NetworkLab : IDisposable
{
    public const string RelayInterface = "qxr0";
    public const string PeerInterface = "qxp0";

    private const int CloneNewNet = 0x40000000;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    public NetworkLab()
    {
        var id = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()));
        var subnet = Random.Shared.Next(1, 255);
        RelayNamespace = $"qpxdp-{id}-r";
        PeerNamespace = $"qpxdp-{id}-p";
        RelayAddress = IPAddress.Parse($"10.200.{subnet}.1");
        PeerAddress = IPAddress.Parse($"10.200.{subnet}.2");
        try
        {
            Ip("netns", "add", RelayNamespace);
            Ip("netns", "add", PeerNamespace);
            Ip("-n", RelayNamespace, "link", "add", RelayInterface, "type", "veth", "peer", "name", PeerInterface, "netns", PeerNamespace);
            Ip("-n", RelayNamespace, "addr", "add", $"{RelayAddress}/24", "dev", RelayInterface);
            Ip("-n", PeerNamespace, "addr", "add", $"{PeerAddress}/24", "dev", PeerInterface);
            foreach (var (ns, dev) in new[] { (RelayNamespace, RelayInterface), (PeerNamespace, PeerInterface) })
            {
                Ip("-n", ns, "link", "set", "lo", "up");
                Ip("-n", ns, "link", "set", dev, "up");
            }

            // The peer side models a host across a wire: full UDP checksums in what it sends. With tx
            // checksum offload on, a veth sender leaves CHECKSUM_PARTIAL (pseudo-header sum only) in the
            // frame, which XDP cannot see, and the rewritten checksum would be wrong.
            Run("ip", "netns", "exec", PeerNamespace, "ethtool", "-K", PeerInterface, "tx", "off");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string RelayNamespace { get; }

    public string PeerNamespace { get; }

    public IPAddress RelayAddress { get; }

    public IPAddress PeerAddress { get; }

    /// <summary>Runs <paramref name="action"/> on a fresh thread that has joined namespace <paramref name="ns"/>.</summary>
    /// <remarks>
    /// setns changes only the calling thread, and the thread exits afterwards, so no other code runs in the
    /// namespace. Interface names resolve there and sockets created there stay there.
    /// </remarks>
    public static T InNamespace<T>(string ns, Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{ns}");
                if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({ns}) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                result = action();
            }
#pragma warning disable CA1031 // rethrown on the caller's thread below
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException($"in namespace {ns}: {failure.Message}", failure);
    }

    /// <summary><c>ip -d link show</c> of an interface in a namespace: says whether an XDP program is attached.</summary>
    public string LinkDetails(string ns, string device) => Run("ip", "-n", ns, "-d", "link", "show", "dev", device);

    /// <summary>An interface's index inside a namespace (the "N:" that <c>ip -o link</c> starts with).</summary>
    public int InterfaceIndex(string ns, string device)
    {
        var line = Run("ip", "-n", ns, "-o", "link", "show", "dev", device);
        return int.Parse(line.AsSpan(0, line.IndexOf(':', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        foreach (var ns in new[] { RelayNamespace, PeerNamespace })
        {
            try
            {
                Ip("netns", "del", ns);
            }
            catch (InvalidOperationException)
            {
                // never created, or already gone
            }
        }
    }

    public static string Ip(params string[] args) => Run("ip", args);

    public static string Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill();
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: timed out");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {process.ExitCode}: {stderr.Result}");
        }

        return stdout.Result;
    }

    // int setns(int fd, int nstype);
    [LibraryImport("libc.so.6", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
