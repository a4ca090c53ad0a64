using System.Security.Cryptography;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Lab.Tests;

/// <summary>
/// <c>quicpipe vpn</c> on both sides of the NAT lab, with the real ping, socat and iperf3 inside the namespaces: IP
/// over QUIC DATAGRAMs, relayed first and then direct, both families; the checks on what a peer may send; the ICMP
/// answers for what cannot go; and a restart of one side.
/// </summary>
public sealed class VpnLabTests(ITestOutputHelper output)
{
    // A number from the stats line's offload part: -1 when the line has none.
    private static long OffloadCount(string line, string name)
    {
        var match = System.Text.RegularExpressions.Regex.Match(line, $@"^stats: vpn .* offload .*\b{name} (\d+)");
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    private static readonly TimeSpan Command = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Eventually = TimeSpan.FromSeconds(15);

    [LabFact]
    public Task Ping_crosses_both_ways_in_IPv4_and_IPv6_and_the_connection_moves_to_the_direct_path() =>
        LabRun.WithAsync(NatKind.PortRestricted, NatKind.PortRestricted, lab =>
        {
            using var vpn = LabVpn.Start(lab);

            // The first ping dials (relayed); a few more, and the NATs have been punched.
            Ping(vpn, LabHost.A, LabVpn.AddressB);
            Ping(vpn, LabHost.B, LabVpn.AddressA);
            Ping(vpn, LabHost.A, LabVpn.Address6B);
            Ping(vpn, LabHost.B, LabVpn.Address6A);

            var relayed = vpn.Expect(vpn.VpnA, PathLines.IsRelayed, "vpn A reported no relayed path");
            var direct = vpn.Expect(vpn.VpnA, PathLines.IsDirect, "vpn A did not move to the direct path", Eventually);
            Assert.True(direct.At > relayed.At, vpn.Describe());

            // Still answering on the direct path.
            Ping(vpn, LabHost.A, LabVpn.AddressB);
            Ping(vpn, LabHost.B, LabVpn.Address6A);
            return Task.CompletedTask;
        });

    [LabFact]
    public Task A_64_MiB_file_crosses_byte_exact_over_TCP_while_the_connection_moves_from_relayed_to_direct() =>
        LabRun.WithAsync(NatKind.PortRestricted, NatKind.FullCone, async lab =>
        {
            // No direct path at first: the connection starts relayed, and goes direct once the path is back, mid-transfer.
            LabNetwork.CutDirectPathAtNatA(lab);
            using var vpn = LabVpn.Start(lab, "--direct-retry", "1s");
            var sent = Path.Combine(vpn.Directory, "sent");
            var received = Path.Combine(vpn.Directory, "received");
            await File.WriteAllBytesAsync(sent, RandomNumberGenerator.GetBytes(64 * 1024 * 1024));

            // A receiver paced at 16 MB/s, so the transfer lasts about 4 s and the move happens inside it.
            var listening = Task.Run(() => vpn.Exec(LabHost.B, Command, "python3", "-c", PacedReceiver, LabVpn.AddressB, "9000", received, "16000000"));
            await Task.Delay(1000);
            var start = vpn.Clock.Elapsed;
            var sending = Task.Run(() => vpn.Exec(LabHost.A, Command, "socat", "-u", $"FILE:{sent}", $"TCP:{LabVpn.AddressB}:9000"));
            await Task.Delay(1000);
            LabNetwork.RestoreDirectPathAtNatA(lab);
            var sendResult = await sending;
            var end = vpn.Clock.Elapsed;
            var listened = await listening;

            Assert.True(sendResult.ExitCode == 0, $"sender: {sendResult.StandardError}\n{vpn.Describe()}");
            Assert.True(listened.ExitCode == 0, $"receiver: {listened.StandardError}\n{vpn.Describe()}");
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(sent)), SHA256.HashData(File.ReadAllBytes(received)));

            var relayed = vpn.Expect(vpn.VpnA, PathLines.IsRelayed, "vpn A reported no relayed path");
            var direct = vpn.Expect(vpn.VpnA, PathLines.IsDirect, "vpn A did not move to the direct path", Eventually);
            output.WriteLine($"relayed at {relayed.At.TotalSeconds:0.00} s, direct at {direct.At.TotalSeconds:0.00} s, transfer {start.TotalSeconds:0.00}-{end.TotalSeconds:0.00} s");
            Assert.True(relayed.At < start && direct.At > start && direct.At < end, $"the path did not change during the transfer\n{vpn.Describe()}");
        });

    [LabTheory]
    [InlineData(true)]
    [InlineData(false)]
    public Task Iperf3_TCP_and_UDP_run_across_the_VPN_with_and_without_TUN_offloads(bool offload) =>
        LabRun.WithAsync(NatKind.FullCone, NatKind.FullCone, async lab =>
        {
            using var vpn = offload ? LabVpn.Start(lab, "--stats-interval", "1s") : LabVpn.Start(lab, "--stats-interval", "1s", "--no-offload");
            Ping(vpn, LabHost.A, LabVpn.AddressB);
            vpn.Expect(vpn.VpnA, PathLines.IsDirect, "vpn A did not move to the direct path", Eventually);

            var tcp = await Iperf3Async(vpn, "-t", "3");
            var tcpBits = tcp.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
            output.WriteLine($"iperf3 TCP: {tcpBits / 1e6:0} Mbit/s");
            Assert.True(tcpBits > 10e6, $"TCP at {tcpBits / 1e6:0.0} Mbit/s\n{vpn.Describe()}");

            // The sender's kernel hands A whole TCP super-packets to cut; B joins the segments back before its kernel.
            if (offload)
            {
                vpn.Expect(vpn.VpnA, l => OffloadCount(l, "super_read") > 0, "vpn A read no super-packet from its TUN device", Eventually);
                vpn.Expect(vpn.VpnB, l => OffloadCount(l, "super_written") > 0, "vpn B joined no TCP segments", Eventually);
            }
            else
            {
                vpn.Expect(vpn.VpnA, l => l.StartsWith("stats: vpn ", StringComparison.Ordinal) && l.EndsWith(" offload off", StringComparison.Ordinal), "vpn A's stats do not say the offloads are off", Eventually);
            }

            var udp = await Iperf3Async(vpn, "-u", "-b", "50M", "-l", "1200", "-t", "3");
            var sum = udp.GetProperty("end").GetProperty("sum");
            var lost = sum.GetProperty("lost_percent").GetDouble();
            var udpBits = sum.GetProperty("bits_per_second").GetDouble();
            output.WriteLine($"iperf3 UDP: {udpBits / 1e6:0} Mbit/s, {lost:0.00}% lost");
            Assert.True(lost < 5, $"{lost:0.00}% of the UDP datagrams were lost\n{vpn.Describe()}");
        });

    [LabFact]
    public Task A_spoofed_source_is_dropped_and_counted_an_unknown_destination_and_an_oversize_packet_get_ICMP() =>
        LabRun.WithAsync(NatKind.FullCone, NatKind.FullCone, lab =>
        {
            using var vpn = LabVpn.Start(lab, "--stats-interval", "1s", "--mtu", "1500");
            Ping(vpn, LabHost.A, LabVpn.AddressB);

            // B sends from an address that is not in its prefixes at A (100.64.0.2/32 only): A must drop it.
            Assert.Equal(0, vpn.Exec(LabHost.B, Command, "ip", "addr", "add", "100.64.0.99/32", "dev", "qp0").ExitCode);
            var spoofed = vpn.Exec(LabHost.B, Command, "ping", "-c", "2", "-W", "1", "-I", "100.64.0.99", LabVpn.AddressA);
            Assert.NotEqual(0, spoofed.ExitCode);
            vpn.Expect(vpn.VpnA, l => l.StartsWith("stats: vpn ", StringComparison.Ordinal) && !l.Contains(" spoofed 0 ", StringComparison.Ordinal), "vpn A did not count the spoofed packets", Eventually);

            // 100.64.0.77 is on A's /24 but no peer owns it: net unreachable, from A's own address.
            var unknown = vpn.Exec(LabHost.A, Command, "ping", "-c", "1", "-W", "2", "100.64.0.77");
            Assert.Contains("Destination Net Unreachable", unknown.StandardOutput, StringComparison.Ordinal);
            var unknown6 = vpn.Exec(LabHost.A, Command, "ping", "-6", "-c", "1", "-W", "2", "fd00:64::77");
            Assert.Contains("Destination unreachable: No route", unknown6.StandardOutput, StringComparison.Ordinal);

            // The device takes 1500 bytes but one DATAGRAM on the path carries less: fragmentation needed, with the size that fits.
            var big = vpn.Exec(LabHost.A, Command, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1472", LabVpn.AddressB);
            output.WriteLine(big.StandardOutput + big.StandardError);
            Assert.Matches(@"(Frag needed and DF set \(mtu = 1[0-9]{3}\)|mtu=1[0-9]{3})", big.StandardOutput + big.StandardError);
            var big6 = vpn.Exec(LabHost.A, Command, "ping", "-6", "-c", "1", "-W", "2", "-M", "do", "-s", "1452", LabVpn.Address6B);
            output.WriteLine(big6.StandardOutput + big6.StandardError);
            Assert.Matches(@"(Packet too big: mtu=1[0-9]{3}|mtu=1[0-9]{3})", big6.StandardOutput + big6.StandardError);
            vpn.Expect(vpn.VpnA, l => l.StartsWith("stats: vpn ", StringComparison.Ordinal) && !l.Contains(" no_route 0 ", StringComparison.Ordinal) && !l.Contains(" too_big 0 ", StringComparison.Ordinal), "vpn A did not count the ICMP answers", Eventually);
            return Task.CompletedTask;
        });

    [LabFact]
    public Task When_one_side_restarts_traffic_resumes_within_5_s_without_restarting_the_other() =>
        LabRun.WithAsync(NatKind.PortRestricted, NatKind.PortRestricted, lab =>
        {
            using var vpn = LabVpn.Start(lab);
            Ping(vpn, LabHost.A, LabVpn.AddressB);

            vpn.VpnB.Dispose();
            var restarted = vpn.StartVpnB();
            vpn.ExpectUp(restarted);
            var up = vpn.Clock.Elapsed;

            // Pings from A (which was not restarted) until one is answered.
            while (vpn.Exec(LabHost.A, Command, "ping", "-c", "1", "-W", "1", LabVpn.AddressB).ExitCode != 0)
            {
                Assert.True(vpn.Clock.Elapsed - up < TimeSpan.FromSeconds(10), $"no answer from the restarted side\n{vpn.Describe()}");
            }

            var resumed = vpn.Clock.Elapsed - up;
            output.WriteLine($"answered {resumed.TotalSeconds:0.00} s after the restarted side was up");
            Assert.True(resumed <= TimeSpan.FromSeconds(5), $"resumed after {resumed.TotalSeconds:0.0} s\n{vpn.Describe()}");
            return Task.CompletedTask;
        });

    // Accepts one TCP connection and writes what it reads to a file, no faster than the given bytes per second.
    private const string PacedReceiver = """
        import socket, sys, time
        host, port, path, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(1)
        connection, _ = server.accept()
        start, total = time.monotonic(), 0
        with open(path, "wb") as out:
            while True:
                data = connection.recv(65536)
                if not data:
                    break
                out.write(data)
                total += len(data)
                ahead = total / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
        """;

    private static void Ping(LabVpn vpn, LabHost from, string to)
    {
        var result = vpn.Exec(from, Command, "ping", "-c", "3", "-i", "0.2", "-W", "5", to);
        Assert.True(result.ExitCode == 0, $"ping {to} from {from}: {result.StandardOutput}{result.StandardError}\n{vpn.Describe()}");
    }

    private static async Task<JsonElement> Iperf3Async(LabVpn vpn, params string[] client)
    {
        var server = Task.Run(() => vpn.Exec(LabHost.B, Command, "iperf3", "-s", "-1", "-B", LabVpn.AddressB));
        await Task.Delay(500);
        var run = vpn.Exec(LabHost.A, Command, ["iperf3", "-c", LabVpn.AddressB, "-J", .. client]);
        await server;
        Assert.True(run.ExitCode == 0, $"iperf3: {run.StandardOutput}{run.StandardError}\n{vpn.Describe()}");
        return JsonDocument.Parse(run.StandardOutput).RootElement;
    }
}
