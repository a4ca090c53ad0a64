using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using QuicPipe.Dataplane;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// The relay's defences as an operator runs them (issue 18 items 1-3): Retry, an allow-list (<c>--peers</c>), and a
/// flood of Initials (garbage and replayed real ones) that leaves registered peers and new dials working.
/// </summary>
public sealed class RelayFloodCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Transfer = TimeSpan.FromSeconds(60);
    private readonly CliScratch _scratch = new("quicpipe-flood-");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public void Dispose()
    {
        _http.Dispose();
        _scratch.Dispose();
    }

    [Fact]
    public async Task With_retry_always_peers_register_and_dial_through_the_relay_after_a_Retry()
    {
        var relay = StartRelay("--retry", "always");

        await TransferAsync(relay, StartAccepter(relay, "b"), "b");

        // The accepter's and the dialer's control connections (the peer connection between them is forwarded, not the relay's).
        Assert.True(await MetricAsync(relay, "quicpipe_quic_retries_sent_total") >= 2, "accept and dial each connect to the relay after a Retry");
        Assert.Equal(0, await MetricAsync(relay, "quicpipe_quic_retries_tokens_rejected_total"));
    }

    [Fact]
    public void A_NodeId_off_the_allow_list_is_told_so_and_SIGHUP_takes_a_new_list_or_keeps_the_old_one()
    {
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var (cKey, cId) = CliTestKit.Identity(_scratch.Directory, "c");
        var peers = Path.Combine(_scratch.Directory, "peers");
        File.WriteAllText(peers, $"# the operator's peers\n{bId}  # b\n");
        var relay = StartRelay("--peers", peers);

        var b = Peer("accept", "--relay", relay.Address, "--key", bKey, "--relay-id", relay.Id, "--allow", cId);
        Assert.True(b.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), b.AllStderr);
        var c = Peer("accept", "--relay", relay.Address, "--key", cKey, "--relay-id", relay.Id, "--allow", bId);
        Assert.True(c.WaitForExit(Startup), c.AllStderr);
        Assert.Equal(1, c.ExitCode);
        Assert.Contains($"refused the connection: The relay refused the request (NotAllowed): NodeId {cId} is not in the relay's allow-list", c.AllStderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", c.AllStderr, StringComparison.Ordinal);

        File.WriteAllText(peers, $"{bId}\n{cId}\n");
        relay.Process.Signal(RelayProcess.SigHup);
        Assert.True(relay.Process.WaitForStderr(l => l.EndsWith($"SIGHUP: reloaded allow-list {peers} (2 NodeIds)", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), relay.Process.AllStderr);
        var again = Peer("accept", "--relay", relay.Address, "--key", cKey, "--relay-id", relay.Id, "--allow", bId);
        Assert.True(again.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), again.AllStderr);

        File.WriteAllText(peers, $"{bId}\nnot-a-node-id\n");
        relay.Process.Signal(RelayProcess.SigHup);
        Assert.True(relay.Process.WaitForStderr(l => l.Contains($"the old allow-list stays: {peers}:2: 'not-a-node-id' is not a NodeId", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), relay.Process.AllStderr);
        Assert.False(relay.Process.HasExited);
        Assert.False(again.HasExited, "c is still on the list the relay kept");
    }

    [Fact]
    public void A_missing_allow_list_is_one_line_and_exit_2()
    {
        var missing = Path.Combine(_scratch.Directory, "absent");

        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--peers", missing);

        Assert.Equal(2, code);
        Assert.Equal($"quicpipe relay: --peers: {missing}: no such file", stderr.Trim());
    }

    [Fact]
    public async Task Under_a_flood_of_garbage_and_replayed_Initials_a_registered_peer_stays_and_a_new_dial_moves_1_MiB()
    {
        var relay = StartRelay();
        var established = StartAccepter(relay, "b0");
        var initials = await CaptureInitialsAsync(256);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        // Bounded in count and time (90 s at most, until the transfers are done): two sources of garbage shaped like
        // Initials at 20,000/s each (perf/control-flood.sh floods as fast as the machine goes), one replaying real
        // Initials at 5,000/s.
        var floods = new[]
        {
            Task.Run(() => Flood(IPAddress.Parse("127.0.0.2"), relay.EndPoint, GarbageInitials(1), 1_800_000, 20_000, stop.Token)),
            Task.Run(() => Flood(IPAddress.Parse("127.0.0.3"), relay.EndPoint, GarbageInitials(2), 1_800_000, 20_000, stop.Token)),
            Task.Run(() => Flood(IPAddress.Parse("127.0.0.4"), relay.EndPoint, initials, 450_000, 5000, stop.Token)),
        };
        await Eventually(async () => await MetricAsync(relay, "quicpipe_quic_initials_undecryptable_total") > 1000, "garbage reaches the control service");

        // A peer that registers under the flood, and a dial to it.
        await TransferAsync(relay, StartAccepter(relay, "b1"), "b1");

        // The peer registered before the flood is still there: a dial to it.
        await TransferAsync(relay, established, "b0");

        await Eventually(async () => await MetricAsync(relay, "quicpipe_quic_connections_refused_per_source_total") > 0, "the replayer meets its per-source cap");
        await stop.CancelAsync();
        var sent = await Task.WhenAll(floods);
        Assert.All(sent, n => Assert.True(n > 1000, $"a flood sent only {n} datagrams"));
        Assert.False(relay.Process.HasExited, relay.Process.AllStderr);
    }

    private async Task TransferAsync(StartedRelay relay, PeerProcess accepter, string name)
    {
        var dial = Peer("dial", "--relay", relay.Address, "--key", Path.Combine(_scratch.Directory, $"{name}-a.key"), "--relay-id", relay.Id, "--relay-only", IdOf(name));
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        await dial.Stdin.WriteAsync(payload);
        dial.Stdin.Close();
        accepter.Stdin.Close();

        Assert.True(dial.WaitForExit(Transfer), "dial: " + dial.AllStderr);
        Assert.True(accepter.WaitForExit(Transfer), "accept: " + accepter.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.Equal(payload.Length, accepter.StdoutBytes);
        Assert.Equal(SHA256.HashData(payload), accepter.StdoutSha256());
    }

    /// <summary>An accepter NAME (key NAME.key) that allows its own dialer NAME-a, registered at the relay.</summary>
    private PeerProcess StartAccepter(StartedRelay relay, string name)
    {
        var (key, _) = CliTestKit.Identity(_scratch.Directory, name);
        var (_, dialer) = CliTestKit.Identity(_scratch.Directory, name + "-a");
        var accept = Peer("accept", "--relay", relay.Address, "--key", key, "--relay-id", relay.Id, "--allow", dialer, "--timeout", "30s");
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        return accept;
    }

    private string IdOf(string name) => NodeIdentity.LoadKeyFile(Path.Combine(_scratch.Directory, name + ".key")).NodeId.ToString();

    private StartedRelay StartRelay(params string[] extra)
    {
        var port = CliTestKit.FreeUdpPort();
        var metrics = CliTestKit.FreeTcpPort();
        var (key, id) = CliTestKit.Identity(_scratch.Directory, "relay");
        string[] args = ["relay", "--listen", $"127.0.0.1:{port}", "--key", key, "--stats-interval", "0", "--metrics", metrics.ToString(CultureInfo.InvariantCulture), .. extra];
        var relay = _scratch.Own(RelayProcess.Start(args));
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return new StartedRelay(relay, $"127.0.0.1:{port}", new IPEndPoint(IPAddress.Loopback, port), id, metrics);
    }

    private PeerProcess Peer(params string[] args) => _scratch.Own(PeerProcess.Start(args));

    private async Task<double> MetricAsync(StartedRelay relay, string name)
    {
        var text = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{relay.MetricsPort}/metrics"));
        var match = Regex.Match(text, "^" + Regex.Escape(name) + @"(\{[^}]*\})? (\S+)$", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static async Task Eventually(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what + ": not within 30 s");
            await Task.Delay(200);
        }
    }

    /// <summary>Sends <paramref name="datagrams"/> round-robin from <paramref name="source"/>, at most <paramref name="count"/>, at <paramref name="rate"/> a second (0: as fast as it goes).</summary>
    private static long Flood(IPAddress source, IPEndPoint relay, byte[][] datagrams, long count, int rate, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(source, 0));
        var started = Environment.TickCount64;
        long sent = 0;
        while (sent < count && !stop.IsCancellationRequested)
        {
            if (rate > 0 && sent > (Environment.TickCount64 - started) * rate / 1000)
            {
                Thread.Sleep(1);
                continue;
            }

            socket.SendTo(datagrams[sent % datagrams.Length], relay);
            sent++;
        }

        return sent;
    }

    /// <summary>Initial-shaped datagrams (v1 long header, a relay-namespace DCID, no token) with random payloads.</summary>
    private static byte[][] GarbageInitials(int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, 64).Select(_ =>
        {
            var packet = new byte[1200];
            random.NextBytes(packet);
            packet[0] = 0xC3;
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(1), 1);
            packet[5] = 12;
            packet[6] |= 0x80;
            packet[18] = 8;
            packet[27] = 0;
            packet[28] = (byte)(0x40 | ((1200 - 30) >> 8));
            packet[29] = unchecked((byte)(1200 - 30));
            return packet;
        })];
    }

    /// <summary>Real first Initials of our client to a relay's control service, each with its own DCID, caught by a socket that never answers.</summary>
    private static async Task<byte[][]> CaptureInitialsAsync(int count)
    {
        using var catcher = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });
        var initials = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var dcid = RandomNumberGenerator.GetBytes(12);
            dcid[0] |= 0x80;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var dial = client.ConnectAsync((IPEndPoint)catcher.Client.LocalEndPoint!, new QuicClientConnectionOptions { AllowAnyPeer = true, Alpn = "quicpipe-relay/1", InitialDestinationConnectionId = new ConnectionId(dcid) }, stop.Token);
            initials[i] = (await catcher.ReceiveAsync(stop.Token)).Buffer;
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<Exception>(() => dial);
        }

        return initials;
    }

    private sealed record StartedRelay(RelayProcess Process, string Address, IPEndPoint EndPoint, string Id, int MetricsPort);
}
