using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>Type=notify</c> readiness as systemd sees it: the commands run under a <c>NOTIFY_SOCKET</c> the test binds, and
/// READY=1 must come only once they serve, STOPPING=1 when SIGTERM begins their stop.
/// </summary>
public sealed class ServiceNotifyTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private readonly CliScratch _scratch = new("quicpipe-notify-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void The_relay_is_ready_once_its_port_is_bound_and_says_stopping_at_SIGTERM()
    {
        var port = CliTestKit.FreeUdpPort();

        // At the moment READY=1 arrives the relay's port must already be taken: checked on the receiving thread.
        var boundAtReady = false;
        using var notify = new NotifySocket(message =>
        {
            if (message == "READY=1")
            {
                boundAtReady = IsUdpPortTaken(port);
            }
        });
        var relay = _scratch.Own(RelayProcess.Start(notify.Environment, "relay", "--listen", $"127.0.0.1:{port}", "--threads", "1", "--stats-interval", "0"));

        Assert.True(notify.WaitFor("READY=1", Startup), relay.AllStderr);
        Assert.True(boundAtReady, "READY=1 came before the relay's port was bound");

        // stderr and the notify socket are two channels, so their order as read here says nothing; the log line is
        // written before the notification is sent, and it must be there.
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        Assert.DoesNotContain("STOPPING=1", notify.Messages);

        relay.Signal(RelayProcess.SigTerm);
        Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(10)), "the relay did not exit at SIGTERM");
        Assert.Equal(0, relay.ExitCode);
        Assert.True(notify.WaitFor("STOPPING=1", TimeSpan.FromSeconds(5)), string.Join(", ", notify.Messages));
        Assert.Equal(new[] { "READY=1", "STOPPING=1" }, notify.Messages.ToArray());
    }

    [Fact]
    public void A_relay_that_cannot_bind_is_never_ready()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var notify = new NotifySocket();

        var relay = _scratch.Own(RelayProcess.Start(notify.Environment, "relay", "--listen", holder.LocalEndPoint!.ToString()!, "--stats-interval", "0"));

        Assert.True(relay.WaitForExit(Startup), "the relay did not exit");
        Assert.Equal(1, relay.ExitCode); // the port is taken: a conflict at run time
        Assert.DoesNotContain("READY=1", notify.Messages);
    }

    [Fact]
    public void Expose_is_ready_only_once_registered_with_its_relay_and_says_stopping_at_SIGTERM()
    {
        var relayAddress = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (relayKey, relayId) = CliTestKit.Identity(_scratch.Directory, "relay");
        var (bKey, _) = CliTestKit.Identity(_scratch.Directory, "b");
        var (_, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        using var notify = new NotifySocket();

        // The relay is not there yet: expose keeps trying (for up to --timeout) and must not say it is ready.
        var expose = _scratch.Own(RelayProcess.Start(notify.Environment, "expose", "8000", "--allow", aId, "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--timeout", "40s"));
        Thread.Sleep(TimeSpan.FromSeconds(3));
        Assert.False(expose.HasExited, expose.AllStderr);
        Assert.Empty(notify.Messages);

        var relay = _scratch.Own(RelayProcess.Start("relay", "--listen", relayAddress, "--key", relayKey, "--threads", "1", "--stats-interval", "0"));
        Assert.True(notify.WaitFor("READY=1", TimeSpan.FromSeconds(40)), $"expose:\n{expose.AllStderr}\nrelay:\n{relay.AllStderr}");
        Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);

        expose.Signal(RelayProcess.SigTerm);
        Assert.True(expose.WaitForExit(TimeSpan.FromSeconds(10)), "expose did not exit at SIGTERM");
        Assert.Equal(0, expose.ExitCode);
        Assert.True(notify.WaitFor("STOPPING=1", TimeSpan.FromSeconds(5)), string.Join(", ", notify.Messages));
        Assert.Equal(new[] { "READY=1", "STOPPING=1" }, notify.Messages.ToArray());
    }

    private static bool IsUdpPortTaken(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return true;
        }
    }
}
