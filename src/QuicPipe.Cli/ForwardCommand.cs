using System.CommandLine;
using System.Net;
using QuicPipe.Cli.Internal;
using QuicPipe.Quic;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe forward [BIND:]LOCALPORT NODEID:PORT</c>: a local TCP port that leads to a port on a peer.</summary>
internal static class ForwardCommand
{
    public static Command Create()
    {
        var flags = new PeerCommandOptions();
        var listen = new Argument<IPEndPoint>("[BIND:]LOCALPORT")
        {
            Description = "Where to listen for local TCP connections; BIND defaults to 127.0.0.1.",
            CustomParser = TunnelArguments.ParseListen,
        };
        var target = new Argument<(NodeId Node, int Port)>("NODEID:PORT")
        {
            Description = "The peer to dial (it runs 'quicpipe expose PORT --allow <our NodeId>') and the port on its 127.0.0.1 to reach.",
            CustomParser = TunnelArguments.ParseTarget,
        };
        var command = new Command("forward", "Dial a peer through the relay and forward every TCP connection made to a local port to a port on the peer's loopback, each in its own QUIC stream. Re-dials (with backoff) when the connection to the peer ends; runs until interrupted.")
        {
            listen, target,
        };
        flags.AddTo(command);
        command.SetAction((parse, interrupted) =>
        {
            var local = parse.GetRequiredValue(listen);
            var (node, port) = parse.GetValue(target);
            return TunnelSession.RunAsync(
                "forward",
                parse,
                flags,
                _ => { },
                (server, cancellationToken) => new ForwardSession(server, local, node, port, parse.GetValue(flags.NoCircuit)).RunAsync(cancellationToken),
                interrupted);
        });
        return command;
    }
}
