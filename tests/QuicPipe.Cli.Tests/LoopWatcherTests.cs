using System.Net;
using QuicPipe.Cli.Internal;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// The policy for a loop that dies: one line, the command told to stop, exit code 1 (so <c>Restart=on-failure</c>
/// brings it back), and <c>/healthz</c> still 503 in the window before the process is gone. The loop is killed the
/// way <see cref="MetricsCommandTests"/> kills one: a stage that throws what a loop must not swallow.
/// </summary>
public sealed class LoopWatcherTests
{
    [Fact]
    public async Task A_dead_loop_is_one_line_a_stop_and_exit_code_1_while_healthz_says_503()
    {
        await using var server = await FatalStageServer.StartAsync();
        var liveness = new LivenessChecks();
        liveness.Add(server);
        var address = new IPEndPoint(IPAddress.Loopback, CliTestKit.FreeTcpPort());
        await using var metrics = await MetricsEndpoint.StartAsync(address, "test", liveness, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        using var output = new StringWriter();
        var exits = new List<int>();
        var exited = new ManualResetEventSlim();
        await using (var watcher = new LoopWatcher("test", liveness, stop, output, TimeSpan.FromMilliseconds(100), code =>
        {
            exits.Add(code);
            exited.Set();
        }, TimeSpan.FromMilliseconds(500)))
        {
            // Running loops: nothing happens.
            await Task.Delay(300);
            Assert.False(stop.IsCancellationRequested);
            Assert.Equal(0, watcher.ExitCode(0));

            FatalStageServer.KillLoop(server);

            Assert.True(SpinWait.SpinUntil(() => stop.IsCancellationRequested, TimeSpan.FromSeconds(5)), "the watcher did not stop the command");
            Assert.True(watcher.LoopDied);
            Assert.Equal(1, watcher.ExitCode(0));
            Assert.Equal(1, watcher.ExitCode(130));
            var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal($"quicpipe test: udp-rx {FatalStageServer.LoopAddress(server)} died: OutOfMemoryException: simulated; exiting", line);

            // The command is stopping but not gone: whoever polls /healthz meanwhile hears 503.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var health = await http.GetAsync(new Uri($"http://{address}/healthz"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);

            // A command whose shutdown hangs is ended anyway, with 1.
            Assert.True(exited.Wait(TimeSpan.FromSeconds(5)), "the watcher did not end a command that failed to stop");
            Assert.Equal([1], exits);
        }
    }

    [Fact]
    public async Task A_command_that_stops_in_time_is_not_ended_by_the_watcher()
    {
        await using var server = await FatalStageServer.StartAsync();
        var liveness = new LivenessChecks();
        liveness.Add(server);
        using var stop = new CancellationTokenSource();
        var exits = new List<int>();
        var watcher = new LoopWatcher("test", liveness, stop, TextWriter.Null, TimeSpan.FromMilliseconds(100), exits.Add, TimeSpan.FromSeconds(2));
        FatalStageServer.KillLoop(server);

        Assert.True(SpinWait.SpinUntil(() => stop.IsCancellationRequested, TimeSpan.FromSeconds(5)));

        // What a command does once stopped: it disposes the watcher on its way out, before the deadline.
        await watcher.DisposeAsync();
        await Task.Delay(2500);
        Assert.Empty(exits);
    }
}
