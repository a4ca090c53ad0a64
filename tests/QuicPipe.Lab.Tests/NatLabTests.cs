using System.Diagnostics;
using System.Net;
using Xunit;

namespace QuicPipe.Lab.Tests;

/// <summary>The script and the fixture themselves: building, running inside, tearing down.</summary>
public sealed class NatLabTests
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(30);

    [LabFact]
    public void Down_removes_a_half_built_lab_and_may_run_twice()
    {
        var name = "qlhalf" + Environment.ProcessId;
        Assert.Equal(0, LabCommand.Run("ip", ["netns", "add", name + "-pub"], ScriptTimeout).ExitCode);
        Assert.Equal(0, LabCommand.Run("ip", ["netns", "add", name + "-a"], ScriptTimeout).ExitCode);

        Assert.Equal(0, Script("down", name).ExitCode);
        Assert.Equal(0, Script("down", name).ExitCode);

        LabRun.AssertGone(name);
    }

    [LabFact]
    public void Up_refuses_a_name_in_use_and_leaves_that_lab_alone()
    {
        var name = "qlbusy" + Environment.ProcessId;
        try
        {
            Assert.Equal(0, Script("up", name, "--nat-a", "none", "--nat-b", "none").ExitCode);

            var again = Script("up", name, "--nat-a", "symmetric", "--nat-b", "none");

            Assert.NotEqual(0, again.ExitCode);
            Assert.Contains("exists", again.StandardError, StringComparison.Ordinal);
            Assert.Equal(7, NatLab.ListNamespaces().Count(ns => ns.StartsWith(name + "-", StringComparison.Ordinal)));
        }
        finally
        {
            Script("down", name);
        }

        LabRun.AssertGone(name);
    }

    [LabFact]
    public void Up_rejects_an_unknown_kind_and_builds_nothing()
    {
        var name = "qlbad" + Environment.ProcessId;

        var result = Script("up", name, "--nat-a", "cone", "--nat-b", "none");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unknown NAT kind", result.StandardError, StringComparison.Ordinal);
        LabRun.AssertGone(name);
    }

    [LabFact]
    public void Exec_runs_inside_the_hosts_namespace() => LabRun.With(NatKind.PortRestricted, NatKind.Symmetric, lab =>
    {
        var addresses = lab.Exec(LabHost.R, "ip", "-4", "-o", "addr", "show", "dev", "eth0");
        var route = lab.Exec(LabHost.B, "ip", "route", "show", "default");

        Assert.Equal(0, addresses.ExitCode);
        Assert.Contains("198.18.0.10/24", addresses.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("198.18.0.11/24", addresses.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("via 10.77.2.1", route.StandardOutput, StringComparison.Ordinal);
    });

    [LabFact]
    public void Start_runs_a_server_inside_the_namespace_and_Dispose_stops_it()
    {
        Process? echo = null;
        LabRun.With(NatKind.PortRestricted, NatKind.None, lab =>
        {
            echo = lab.Start(LabHost.R, "socat", "UDP4-RECVFROM:7000,bind=198.18.0.10,fork", "PIPE");
            using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
            var server = new IPEndPoint(NatLab.AddressOf(LabHost.R), 7000);

            // socat binds a moment after it starts; ask until it answers.
            var deadline = Stopwatch.StartNew();
            (string Text, IPEndPoint From)? reply = null;
            while (reply is null && deadline.Elapsed < UdpEndpoint.Arrives)
            {
                a.Send(server, "echo");
                reply = a.TryReceive(TimeSpan.FromMilliseconds(200));
            }

            Assert.Equal(("echo", server), reply);
        });

        Assert.NotNull(echo);
        Assert.True(echo.HasExited);
    }

    [LabFact]
    public void FlushConntrack_takes_only_routers() => LabRun.With(NatKind.None, NatKind.None, lab =>
        Assert.Throws<ArgumentOutOfRangeException>(() => lab.FlushConntrack(LabHost.R)));

    private static LabResult Script(params string[] args) =>
        LabCommand.Run("bash", [LabSupport.ScriptPath, .. args], ScriptTimeout);
}
