using System.Diagnostics;
using System.Globalization;
using System.Net;
using QuicPipe.Quic;

// Single-connection bulk download over loopback with our QUIC engine (perf/quic-vs-ngtcp2.sh runs it).
//   QuicPipe.QuicBench [--mib N] [--chunk BYTES] [--timeout SECONDS] [--cc cubic|bbr2]
//   QuicPipe.QuicBench identity CERT_PEM KEY_PEM      (writes a generated identity, e.g. for gtlsserver)
//   QuicPipe.QuicBench initials N FILE                (writes N real client Initials to a relay's control service,
//                                                      each with its own DCID, for perf/control-flood.sh's replayer)
// One process, two endpoints (each with its own loop thread): the client opens one stream and sends a 1-byte
// request; the server answers with N MiB from one reused buffer and ends the stream; the client counts the
// bytes. Prints one JSON line: bytes, seconds, MiB/s, and GC collections and bytes allocated during the transfer.
// Exit 1 if the byte count is wrong or the transfer fails.
if (args.Length == 3 && args[0] == "identity")
{
    NodeIdentity.Generate().Save(args[1], args[2]);
    return 0;
}

if (args.Length == 3 && args[0] == "initials" && int.TryParse(args[1], CultureInfo.InvariantCulture, out var initialCount) && initialCount > 0)
{
    await WriteInitialsAsync(initialCount, args[2]);
    return 0;
}

var mib = 256;
var chunk = 64 * 1024;
var limit = TimeSpan.FromSeconds(120);
var congestionControl = QuicCongestionControl.Cubic;
AllocationSampler? sampler = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--mib":
            mib = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--chunk":
            chunk = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--timeout":
            limit = TimeSpan.FromSeconds(int.Parse(args[++i], CultureInfo.InvariantCulture));
            break;
        case "--cc":
            congestionControl = args[++i] switch
            {
                "cubic" => QuicCongestionControl.Cubic,
                "bbr2" => QuicCongestionControl.Bbr2,
                var other => throw new ArgumentException($"--cc is cubic or bbr2, not {other}"),
            };
            break;
        case "--allocations":
            sampler = new AllocationSampler();
            break;
        case "-h" or "--help":
            Console.WriteLine("Usage: QuicPipe.QuicBench [--mib N (256)] [--chunk BYTES (65536)] [--timeout SECONDS (120)] [--cc cubic|bbr2 (cubic)] [--allocations] | identity CERT KEY");
            Console.WriteLine("  --allocations  after the JSON line, the types allocated during the transfer (GC allocation samples, one per ~100 KB) on stderr");
            return 0;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

var total = (long)mib * 1024 * 1024;
using var timeout = new CancellationTokenSource(limit);
var serverIdentity = NodeIdentity.Generate();
var clientIdentity = NodeIdentity.Generate();
await using var serverEndpoint = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions
{
    Identity = serverIdentity,
    AcceptIncoming = true,
    ExpectedClient = clientIdentity.NodeId,
    CongestionControl = congestionControl,
});
await using var clientEndpoint = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = clientIdentity, CongestionControl = congestionControl });

var serving = Task.Run(async () =>
{
    var connection = await serverEndpoint.AcceptAsync(timeout.Token);
    var stream = await connection.AcceptStreamAsync(timeout.Token);
    _ = await stream.Input.ReadAtLeastAsync(1, timeout.Token);
    var buffer = new byte[chunk];
    for (var i = 0; i < buffer.Length; i++)
    {
        buffer[i] = (byte)(i * 7 + 0x5a);
    }

    for (long sent = 0; sent < total;)
    {
        var n = (int)Math.Min(chunk, total - sent);
        sent += n;
        await stream.WriteAsync(buffer.AsMemory(0, n), endStream: sent == total, timeout.Token);
    }

    return connection;
});

var client = await clientEndpoint.ConnectAsync(serverEndpoint.LocalEndPoint, new QuicClientConnectionOptions { ExpectedPeer = serverIdentity.NodeId }, timeout.Token);
var gc0 = GC.CollectionCount(0);
var gc1 = GC.CollectionCount(1);
var gc2 = GC.CollectionCount(2);
var allocated = GC.GetTotalAllocatedBytes(precise: true);
var cpu = ProcessCpu.Sample();
if (sampler is not null)
{
    sampler.Recording = true;
}

var clock = Stopwatch.StartNew();
var request = await client.OpenBidirectionalStreamAsync(timeout.Token);
await request.WriteAsync(new byte[] { 1 }, endStream: true, timeout.Token);
long received = 0;
while (true)
{
    var result = await request.Input.ReadAsync(timeout.Token);
    received += result.Buffer.Length;
    request.Input.AdvanceTo(result.Buffer.End);
    if (result.IsCompleted)
    {
        break;
    }
}

var seconds = clock.Elapsed.TotalSeconds;
if (sampler is not null)
{
    sampler.Recording = false;
}
var used = ProcessCpu.Sample() - cpu;
var collections = (GC.CollectionCount(0) - gc0, GC.CollectionCount(1) - gc1, GC.CollectionCount(2) - gc2);
allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
var stats = await client.GetStatsAsync(timeout.Token);
var server = await serving;
var serverStats = await server.GetStatsAsync(timeout.Token);
await client.CloseAsync(0, "done", timeout.Token);

var ok = received == total;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"impl\":\"quicpipe\",\"ok\":{(ok ? "true" : "false")},\"bytes\":{received},\"expected\":{total},\"seconds\":{seconds:F3},\"mib_per_s\":{received / 1048576.0 / seconds:F1}," +
    $"\"cpu_ms_per_mib\":{used.Milliseconds / (received / 1048576.0):F2},\"context_switches_per_mib\":{used.ContextSwitches / (received / 1048576.0):F0}," +
    $"\"gc_gen0\":{collections.Item1},\"gc_gen1\":{collections.Item2},\"gc_gen2\":{collections.Item3},\"allocated_bytes\":{allocated}," +
    $"\"server_packets_sent\":{serverStats.PacketsSent},\"client_packets_sent\":{stats.PacketsSent},\"server_packets_lost\":{serverStats.PacketsLost},\"min_rtt_us\":{stats.MinRtt.TotalMicroseconds:F0},\"server_cwnd\":{serverStats.CongestionWindow}}}"));
foreach (var line in sampler?.Report() ?? [])
{
    Console.Error.WriteLine(line);
}

if (!ok)
{
    Console.Error.WriteLine($"byte count mismatch: received {received}, expected {total}");
}

return ok ? 0 : 1;


// N first Initials of our client dialing a relay's control service (ALPN quicpipe-relay/1, a DCID in the relay's
// namespace), caught by a socket that never answers; each record a 2-byte big-endian length and the datagram.
static async Task WriteInitialsAsync(int count, string path)
{
    using var catcher = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
    await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });
    await using var file = File.Create(path);
    for (var i = 0; i < count; i++)
    {
        var dcid = System.Security.Cryptography.RandomNumberGenerator.GetBytes(12);
        dcid[0] |= 0x80;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var dial = client.ConnectAsync((IPEndPoint)catcher.Client.LocalEndPoint!, new QuicClientConnectionOptions { AllowAnyPeer = true, Alpn = "quicpipe-relay/1", InitialDestinationConnectionId = new QuicPipe.Dataplane.ConnectionId(dcid) }, stop.Token);
        var initial = await catcher.ReceiveAsync(stop.Token);
        await stop.CancelAsync();
        try
        {
            await dial;
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException)
        {
            // Abandoned on purpose: only its first datagram was wanted.
        }

        file.Write([(byte)(initial.Buffer.Length >> 8), (byte)initial.Buffer.Length]);
        file.Write(initial.Buffer);
    }
}
