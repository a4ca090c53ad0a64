using System.Diagnostics;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Xdp.Tests;

/// <summary>Attachments go away: on Dispose, over many cycles, and when the holding process is killed.</summary>
public sealed class AttachLifecycleTests
{
    [RootFact]
    public void Twenty_load_attach_detach_unload_cycles_leave_no_program_link_or_map_behind()
    {
        using var lab = new NetworkLab();
        var ifindex = lab.InterfaceIndex(lab.RelayNamespace, NetworkLab.RelayInterface);
        var baseline = BpfFds();

        for (var cycle = 0; cycle < 20; cycle++)
        {
            using (var program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 1024, MissBufferBytes = 4096 }))
            {
                using var attachment = NetworkLab.InNamespace(lab.RelayNamespace, () => program.Attach(ifindex, XdpAttachMode.Native, allowGenericFallback: false));
                var (id, mode) = NetworkLab.InNamespace(lab.RelayNamespace, () => XdpProgram.Query(ifindex));
                Assert.NotEqual(0U, id);
                Assert.Equal(XdpAttachMode.Native, mode);
            }

            Assert.Equal(0U, NetworkLab.InNamespace(lab.RelayNamespace, () => XdpProgram.Query(ifindex)).ProgramId);
        }

        Assert.DoesNotContain("prog/xdp", lab.LinkDetails(lab.RelayNamespace, NetworkLab.RelayInterface), StringComparison.Ordinal);
        Assert.Equal(baseline, BpfFds());
    }

    [RootFact]
    public void Generic_mode_attaches_on_request_and_native_falls_back_to_it_where_the_driver_has_no_XDP()
    {
        using var lab = new NetworkLab();
        using var program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 1024, MissBufferBytes = 4096 });
        var veth = lab.InterfaceIndex(lab.RelayNamespace, NetworkLab.RelayInterface);
        using (var generic = NetworkLab.InNamespace(lab.RelayNamespace, () => program.Attach(veth, XdpAttachMode.Generic)))
        {
            Assert.Equal(XdpAttachMode.Generic, generic.Mode);
            Assert.Equal(XdpAttachMode.Generic, NetworkLab.InNamespace(lab.RelayNamespace, () => XdpProgram.Query(veth)).Mode);
        }

        // The namespace's own loopback: its driver has no native XDP.
        using var loopback = NetworkLab.InNamespace(lab.RelayNamespace, () => program.Attach("lo", XdpAttachMode.Native, allowGenericFallback: true));
        Assert.Equal(XdpAttachMode.Generic, loopback.Mode);
        Assert.NotNull(loopback.FallbackReason);
        Assert.Throws<InvalidOperationException>(() => NetworkLab.InNamespace(lab.RelayNamespace, () => program.Attach("lo", XdpAttachMode.Native, allowGenericFallback: false)));
    }

    [RootFact]
    public void Disposing_the_program_detaches_attachments_still_open()
    {
        using var lab = new NetworkLab();
        var program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 1024, MissBufferBytes = 4096 });
        NetworkLab.InNamespace(lab.RelayNamespace, () => program.Attach(NetworkLab.RelayInterface));
        program.Dispose();

        Assert.DoesNotContain("prog/xdp", lab.LinkDetails(lab.RelayNamespace, NetworkLab.RelayInterface), StringComparison.Ordinal);
    }

    [RootFact]
    public void A_killed_process_leaves_no_program_attached()
    {
        using var lab = new NetworkLab();
        var testAssembly = typeof(AttachLifecycleTests).Assembly.Location;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "netns", "exec", lab.RelayNamespace, dotnet, testAssembly, "hold-attachment", NetworkLab.RelayInterface })
        {
            start.ArgumentList.Add(arg);
        }

        using var child = Process.Start(start)!;
        try
        {
            // `ip netns exec` execs the command, so the child's pid is the holder's pid.
            var line = child.StandardOutput.ReadLineAsync();
            Assert.True(line.Wait(TimeSpan.FromSeconds(30)), "the child did not attach within 30 s");
            Assert.Equal("attached Native", line.Result);
            Assert.Contains("prog/xdp", lab.LinkDetails(lab.RelayNamespace, NetworkLab.RelayInterface), StringComparison.Ordinal);

            child.Kill(); // SIGKILL: no Dispose, no finaliser; only the kernel closing the link fd
            Assert.True(child.WaitForExit(TimeSpan.FromSeconds(10)), "the child did not die");

            var deadline = Stopwatch.StartNew();
            string details;
            while ((details = lab.LinkDetails(lab.RelayNamespace, NetworkLab.RelayInterface)).Contains("prog/xdp", StringComparison.Ordinal) && deadline.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.Sleep(50);
            }

            Assert.DoesNotContain("prog/xdp", details, StringComparison.Ordinal);
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill();
                child.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
    }

    /// <summary>This process's open BPF objects (program, map, link fds), by kind.</summary>
    private static string BpfFds()
    {
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            var target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.StartsWith("anon_inode:bpf", StringComparison.Ordinal))
            {
                kinds[target] = kinds.GetValueOrDefault(target) + 1;
            }
        }

        return string.Join(", ", kinds.Select(k => $"{k.Key}={k.Value}"));
    }
}
