using System.Globalization;

namespace QuicPipe.Lab;

/// <summary>Whether this machine can build labs, and if not, a sentence saying why.</summary>
internal static class LabSupport
{
    private const int CapNetAdmin = 12;
    private const int CapSysAdmin = 21;
    private static readonly string[] Tools = ["bash", "ip", "nft", "conntrack"];
    private static readonly string[] SystemDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
    private static readonly Lazy<string?> Reason = new(Probe);

    public static string? UnsupportedReason => Reason.Value;

    public static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "lab", "natlab.sh");

    /// <summary>The full path of a tool on PATH or in the usual system directories, or null.</summary>
    public static string? Find(string tool)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(SystemDirectories)
            .Select(directory => Path.Combine(directory, tool))
            .FirstOrDefault(File.Exists);
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "The NAT lab needs Linux network namespaces.";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "The NAT lab needs root (network namespaces, nftables, conntrack); CI runs these tests as root.";
        }

        var capabilities = EffectiveCapabilities();
        if (capabilities is { } caps && (!Has(caps, CapNetAdmin) || !Has(caps, CapSysAdmin)))
        {
            return "The NAT lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN, which this root process lacks (a restricted container?).";
        }

        var missing = Tools.Where(tool => Find(tool) is null).ToArray();
        if (missing.Length > 0)
        {
            return $"The NAT lab needs {string.Join(", ", missing)} on PATH; scripts/setup.sh installs them.";
        }

        return File.Exists(ScriptPath) ? null : $"The NAT lab script is missing at {ScriptPath}.";
    }

    private static bool Has(ulong capabilities, int capability) => ((capabilities >> capability) & 1) != 0;

    private static ulong? EffectiveCapabilities()
    {
        const string prefix = "CapEff:";
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? null : ulong.Parse(line.AsSpan(prefix.Length).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
