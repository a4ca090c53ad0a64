using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe mesh</c> and the peer commands' <c>--neighbor</c> / <c>--no-circuit</c>, as processes on loopback
/// with a real relay (docs/circuits.md).
/// </summary>
public sealed class MeshCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Transfer = TimeSpan.FromSeconds(120);
    private readonly CliScratch _scratch = new("quicpipe-mesh-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void Mesh_without_a_neighbor_is_a_usage_error()
    {
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "m");

        var (exitCode, _, stderr) = RelayProcess.Run(Startup, "mesh", "--relay", "127.0.0.1:9", "--key", key);

        Assert.Equal(2, exitCode);
        Assert.Contains("--neighbor", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_named_as_its_own_neighbor_is_a_usage_error()
    {
        var (key, id) = CliTestKit.Identity(_scratch.Directory, "m");

        var (exitCode, _, stderr) = RelayProcess.Run(Startup, "mesh", "--relay", "127.0.0.1:9", "--key", key, "--neighbor", id);

        Assert.Equal(2, exitCode);
        Assert.Equal($"quicpipe mesh: --neighbor: {id} is this node's own NodeId (its --key); a node is not its own neighbour.", stderr.Trim());
    }

    [Fact]
    public void A_dial_nobody_can_reach_fails_as_unreachable_through_the_mesh_in_one_line_and_no_circuit_skips_the_mesh()
    {
        var relayAddress = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (relayKey, relayId) = CliTestKit.Identity(_scratch.Directory, "relay");
        var relay = _scratch.Own(RelayProcess.Start("relay", "--listen", relayAddress, "--key", relayKey, "--threads", "1", "--stats-interval", "0"));
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var (cKey, cId) = CliTestKit.Identity(_scratch.Directory, "c");
        var b = Peer("mesh", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--neighbor", aId, "--neighbor", cId);
        var c = Peer("mesh", "--relay", relayAddress, "--key", cKey, "--relay-id", relayId, "--neighbor", bId);
        Assert.True(b.WaitForStderr(l => l.StartsWith("routing as", StringComparison.Ordinal), Startup), b.AllStderr);
        Assert.True(c.WaitForStderr(l => l.StartsWith("routing as", StringComparison.Ordinal), Startup), c.AllStderr);
        var stranger = NodeIdentity.Generate().NodeId.ToString();

        var clock = Stopwatch.StartNew();
        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--neighbor", bId, stranger);
        Assert.True(dial.WaitForExit(TimeSpan.FromSeconds(60)), dial.AllStderr);

        Assert.Equal(1, dial.ExitCode);
        var line = Assert.Single(dial.Stderr, l => l.StartsWith("quicpipe dial: ", StringComparison.Ordinal));
        Assert.Contains(stranger, line, StringComparison.Ordinal);
        Assert.Contains("no circuit either", line, StringComparison.Ordinal);
        Assert.Contains("unreachable", line, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"took {clock.Elapsed}");

        var direct = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--neighbor", bId, "--no-circuit", stranger);
        Assert.True(direct.WaitForExit(TimeSpan.FromSeconds(60)), direct.AllStderr);
        Assert.Equal(1, direct.ExitCode);
        // The command's one line; the peer's log may warn beside it (B, dialing A's key for its link, reached the first dial's process too).
        var only = Assert.Single(direct.Stderr, l => l.StartsWith("quicpipe dial: ", StringComparison.Ordinal));
        Assert.Contains(stranger, only, StringComparison.Ordinal);
        Assert.DoesNotContain("circuit", only, StringComparison.Ordinal);
        Assert.False(b.HasExited, b.AllStderr);
        Assert.False(c.HasExited, c.AllStderr);
    }

    [Fact]
    public async Task Across_relay_islands_dial_reaches_accept_through_the_circuit_A_B_C_D_byte_exact_both_ways()
    {
        var lab = RelayIslands.Start(_scratch);
        var accept = lab.Accept();

        // A sends its cells inside its link's encryption, the others unprotected: both kinds cross the same circuit.
        var dial = Peer("dial", "--relay", lab.R1, "--key", lab.AKey, "--relay-id", lab.R1Id, "--neighbor", lab.B, "--encrypted-hops", lab.D);

        var forward = WriteRandomAsync(dial.Stdin, 8 * 1024 * 1024, seed: 1);
        var backward = WriteRandomAsync(accept.Stdin, 8 * 1024 * 1024, seed: 2);
        var sentForward = await forward;
        var sentBackward = await backward;

        Assert.True(dial.WaitForExit(Transfer), "dial did not finish: " + dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), "accept did not finish: " + accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(sentForward, accept.StdoutSha256());
        Assert.Equal(sentBackward, dial.StdoutSha256());
        Assert.Contains(dial.Stderr, l => l.StartsWith($"path: circuit via {lab.B},{lab.C} rtt ", StringComparison.Ordinal) && l.EndsWith($"ms peer {lab.D}", StringComparison.Ordinal));
        Assert.Contains(accept.Stderr, l => l.StartsWith($"path: circuit via {lab.B},{lab.C} rtt ", StringComparison.Ordinal) && l.EndsWith($"ms peer {lab.A}", StringComparison.Ordinal));
        Assert.DoesNotContain(dial.Stderr, l => l.StartsWith("path: relayed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Across_relay_islands_killing_C_mid_transfer_ends_dial_and_accept_within_5_s_with_exit_1_and_one_line()
    {
        var lab = RelayIslands.Start(_scratch);
        var accept = lab.Accept();
        var dial = Peer("dial", "--relay", lab.R1, "--key", lab.AKey, "--relay-id", lab.R1Id, "--neighbor", lab.B, lab.D);
        using var stop = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await dial.Stdin.WriteAsync(chunk, stop.Token);
                    await Task.Delay(10, stop.Token);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        });
        var deadline = DateTime.UtcNow + Transfer;
        while (accept.StdoutBytes < 1024 * 1024 && DateTime.UtcNow < deadline && !accept.HasExited)
        {
            await Task.Delay(50);
        }

        Assert.True(accept.StdoutBytes >= 1024 * 1024, accept.AllStderr + "\n" + dial.AllStderr);
        var killed = Stopwatch.StartNew();
        lab.Mesh["C"].KillAbruptly();

        // Both waited for together; the time of the later exit is the bound.
        Assert.True(dial.WaitForExit(TimeSpan.FromSeconds(15)), $"dial still running {killed.Elapsed} after the kill: {dial.AllStderr}");
        Assert.True(accept.WaitForExit(TimeSpan.FromSeconds(15)), $"accept still running {killed.Elapsed} after the kill: {accept.AllStderr}");
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(5), $"both ended only {killed.Elapsed} after the kill:\n{dial.AllStderr}\n{accept.AllStderr}");
        await stop.CancelAsync();
        await sending;
        foreach (var (process, command) in new[] { (dial, "dial"), (accept, "accept") })
        {
            Assert.Equal(1, process.ExitCode);
            // One line of the command's own (beside the path line, and the warnings of the peer's log about the dead link).
            var failure = Assert.Single(process.Stderr, l => l.StartsWith($"quicpipe {command}: ", StringComparison.Ordinal));
            Assert.StartsWith($"quicpipe {command}: connection lost: circuit down: ", failure, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Across_relay_islands_forward_reaches_expose_through_the_circuit()
    {
        await using var echo = new EchoTcpServer();
        var lab = RelayIslands.Start(_scratch);
        var port = echo.Port.ToString(CultureInfo.InvariantCulture);
        var expose = Peer("expose", port, "--allow", lab.A, "--relay", lab.R2, "--key", lab.DKey, "--relay-id", lab.R2Id, "--neighbor", lab.C);
        Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);
        Assert.True(lab.Mesh["C"].WaitForStderr(l => l.Contains($"Mesh link to {lab.D} up", StringComparison.Ordinal), Startup), lab.Mesh["C"].AllStderr);
        var localPort = CliTestKit.FreeTcpPort();
        var forward = Peer("forward", localPort.ToString(CultureInfo.InvariantCulture), $"{lab.D}:{port}", "--relay", lab.R1, "--key", lab.AKey, "--relay-id", lab.R1Id, "--neighbor", lab.B);
        Assert.True(forward.WaitForStderr(l => l.StartsWith("forwarding 127.0.0.1:", StringComparison.Ordinal), Startup), forward.AllStderr);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, localPort);
        var stream = client.GetStream();
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        var writing = stream.WriteAsync(payload).AsTask();
        var echoed = new byte[payload.Length];
        await stream.ReadExactlyAsync(echoed).AsTask().WaitAsync(Transfer);
        await writing;

        Assert.Equal(payload, echoed);
        Assert.Contains(forward.Stderr, l => l.StartsWith($"path: circuit via {lab.B},{lab.C} rtt ", StringComparison.Ordinal) && l.EndsWith($"peer {lab.D}", StringComparison.Ordinal));
        Assert.Contains(expose.Stderr, l => l == $"accepted {lab.A} (via circuit)");
    }

    /// <summary>Writes <paramref name="total"/> seeded pseudo-random bytes, closes the stream, returns their SHA-256.</summary>
    private static async Task<byte[]> WriteRandomAsync(Stream stdin, int total, int seed)
    {
        var bytes = new byte[total];
        new Random(seed).NextBytes(bytes);
        for (var sent = 0; sent < total; sent += 256 * 1024)
        {
            await stdin.WriteAsync(bytes.AsMemory(sent, Math.Min(256 * 1024, total - sent)));
        }

        stdin.Close();
        return SHA256.HashData(bytes);
    }

    private PeerProcess Peer(params string[] args) => _scratch.Own(PeerProcess.Start(args));
}
