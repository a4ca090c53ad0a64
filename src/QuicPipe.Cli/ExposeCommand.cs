using System.CommandLine;
using QuicPipe.Cli.Internal;
using QuicPipe.Quic;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe expose PORT... --allow NODEID</c>: let the allowed peers reach these local ports.</summary>
internal static class ExposeCommand
{
    public static Command Create()
    {
        var flags = new PeerCommandOptions();
        var ports = new Argument<int[]>("PORT")
        {
            Description = "A port on 127.0.0.1 the allowed peers may reach; several may be given. Any other port is refused.",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = TunnelArguments.ParsePorts,
        };
        var allow = new Option<NodeId[]>("--allow")
        {
            Description = "A NodeId that may dial this node and reach the ports; repeat for several. Anyone else is refused.",
            HelpName = "NODEID",
            Arity = ArgumentArity.OneOrMore,
            Required = true,
            CustomParser = result => PeerCommandOptions.ParseNodeIds(result, "--allow"),
        };
        var command = new Command("expose", "Accept dials from the allowed peers through the relay and connect each of their tunnel streams ('quicpipe forward') to the asked port on 127.0.0.1, if it is one of PORT. Serves any number of peers; runs until interrupted.")
        {
            ports, allow,
        };
        flags.AddTo(command);
        command.SetAction((parse, interrupted) =>
        {
            var allowed = parse.GetRequiredValue(allow);
            var exposed = parse.GetRequiredValue(ports);
            var session = new ExposeSession(exposed, allowed);
            return TunnelSession.RunAsync(
                "expose",
                parse,
                flags,
                options =>
                {
                    foreach (var id in allowed)
                    {
                        options.AllowedDialers.Add(id);
                    }
                },
                session.RunAsync,
                interrupted,
                session.Compose);
        });
        return command;
    }
}
