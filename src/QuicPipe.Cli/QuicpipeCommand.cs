using System.CommandLine;
using QuicPipe.Cli.Internal;

namespace QuicPipe.Cli;

/// <summary>The <c>quicpipe</c> command: every subcommand with its help example, and <c>--version</c>.</summary>
internal static class QuicpipeCommand
{
    // NodeIds in the examples: real ones (from 'quicpipe keygen'), so each example parses as written; a person
    // puts the NodeIds their own keygen printed in their place.
    private const string NodeA = "s5ouynmapxcti3fpc6ecopezo3p62x3l3ejbxrul3caofybr7pgq";
    private const string NodeB = "s7zhgi7esqjloe7yocakmlkn2d5qftivaumbqb7bq2efe6mruizq";

    public static RootCommand Create()
    {
        var root = new RootCommand("quicpipe: point-to-point QUIC across NATs, and the relay that forwards it by connection ID.");
        var examples = new Dictionary<Command, string>
        {
            [root] = "quicpipe relay --listen 127.0.0.1:4433 --key relay.key --stats-interval 1s",
        };

        void Add(Command command, string example)
        {
            ConfigDefaults.AddTo(command);
            root.Add(command);
            examples[command] = example;
        }

        Add(RelayCommand.Create(), "quicpipe relay --listen 127.0.0.1:4433 --listen [::1]:4433 --routes routes.txt --stats-interval 1s");
        Add(KeygenCommand.Create(), "quicpipe keygen --out a.key");
        Add(DialCommand.Create(), $"quicpipe dial --relay 127.0.0.1:4433 --key a.key {NodeB} < file.bin");
        Add(AcceptCommand.Create(), $"quicpipe accept --relay 127.0.0.1:4433 --key b.key --allow {NodeA} > received.bin");
        Add(ForwardCommand.Create(), $"quicpipe forward 9000 {NodeB}:8000 --relay 127.0.0.1:4433 --key a.key");
        Add(ExposeCommand.Create(), $"quicpipe expose 8000 --relay 127.0.0.1:4433 --key b.key --allow {NodeA}");
        Add(ProxyCommand.Create(), "quicpipe proxy --http 3128 --socks5 1080 --relay 127.0.0.1:4433 --key a.key");
        Add(MeshCommand.Create(), $"quicpipe mesh --relay 127.0.0.1:4433 --key m.key --neighbor {NodeA} --neighbor {NodeB}");
        Add(VpnCommand.Create(), $"quicpipe vpn --relay 192.0.2.10:4433 --key a.key --address 100.64.0.1/24 --peer {NodeB}=100.64.0.2/32");

        root.Options.OfType<VersionOption>().Single().Action = new VersionAction();
        CliHelp.AddExamples(root, examples);
        return root;
    }
}
