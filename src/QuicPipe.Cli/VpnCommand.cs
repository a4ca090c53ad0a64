using System.CommandLine;
using QuicPipe.Cli.Internal;

namespace QuicPipe.Cli;

/// <summary>
/// <c>quicpipe vpn --address A/LEN --peer NODEID=PREFIXES...</c>: a TUN device whose IP packets ride QUIC DATAGRAMs
/// to the peers that own their destinations (cryptokey routing).
/// </summary>
internal static class VpnCommand
{
    public static Command Create()
    {
        var flags = new PeerCommandOptions();
        var addresses = new Option<string[]>("--address")
        {
            Description = "An address of the TUN device with its prefix length, e.g. 100.64.0.1/24 or fd00:64::1/64; repeat for IPv4 and IPv6.",
            HelpName = "ADDR/LEN",
            Arity = ArgumentArity.OneOrMore,
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var peers = new Option<string[]>("--peer")
        {
            Description = "A peer and the prefixes it owns, e.g. NODEID=100.64.0.2/32,10.9.0.0/16: packets to those prefixes go to it, and packets from it must come from them. Repeat for each peer; the peer lists this node the same way.",
            HelpName = "NODEID=PREFIX[,PREFIX...]",
            Arity = ArgumentArity.OneOrMore,
            Required = true,
        };
        var tun = new Option<string>("--tun")
        {
            Description = "The TUN device's name; created at start and removed at exit (a leftover one of an earlier quicpipe is replaced).",
            HelpName = "NAME",
            DefaultValueFactory = _ => VpnArguments.DefaultTunName,
        };
        var mtu = CliOptions.Int("--mtu", "The TUN device's MTU: an IP packet must fit one QUIC DATAGRAM on the path (1400 fits a 1500-byte path; IPv6 inside needs at least 1280).", VpnArguments.DefaultMtu, 576, 9000);
        var noOffload = new Option<bool>("--no-offload")
        {
            Description = "Turn off the TUN device's offloads (64 KiB TCP/UDP super-packets cut in user space, received TCP segments joined before the kernel takes them): one MTU-sized packet per read and write instead. For comparison, or a kernel that refuses them.",
        };
        var stats = CliOptions.Duration("--stats-interval", "Every DURATION, a line 'stats: vpn ...' on stderr (packets and bytes each way, drops by reason) and the peers' path stats. 0: none.", TimeSpan.Zero);
        var command = new Command("vpn", "Create a TUN device and carry its IP packets to the listed peers as QUIC DATAGRAMs, each peer reached through the relay (dialled on its first packet, or accepted from it) and moved to a direct path when the NATs allow; with --neighbor, a peer no relay knows is reached through a circuit of neighbours. Needs root or CAP_NET_ADMIN. Runs until interrupted; removes the device at exit.")
        {
            addresses, peers, tun, mtu, noOffload, stats,
        };
        flags.AddTo(command);
        command.SetAction((parse, interrupted) =>
        {
            if (VpnArguments.Parse(parse.GetRequiredValue(addresses), parse.GetRequiredValue(peers), parse.GetValue(tun)!, parse.GetValue(mtu), !parse.GetValue(noOffload), out var exitCode) is not { } arguments)
            {
                return Task.FromResult(exitCode);
            }

            var session = new VpnSession(arguments, parse.GetValue(stats), parse.GetValue(flags.NoCircuit));
            return TunnelSession.RunAsync(
                "vpn",
                parse,
                flags,
                session.Configure,
                session.RunAsync,
                interrupted,
                session.ComposeConnections,
                session.ComposeListeners);
        });
        return command;
    }
}
