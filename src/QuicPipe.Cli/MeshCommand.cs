using System.CommandLine;
using QuicPipe.Cli.Internal;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe mesh --relay ... --key ... --neighbor NODEID...</c>: a node that only routes circuits.</summary>
internal static class MeshCommand
{
    public static Command Create()
    {
        var flags = new PeerCommandOptions();
        var command = new Command("mesh", "Route circuits (docs/circuits.md) for and through the neighbours given with --neighbor: keep a link to each, answer probes, relay cells, which stay end-to-end encrypted between the circuit's ends. Nothing ends here. Runs until interrupted.");
        flags.AddTo(command);
        CliOptions.AddValidator(command, result =>
        {
            if (result.GetValue(flags.Neighbors) is not { Length: > 0 })
            {
                result.AddError("Say whom to route for: --neighbor NODEID (repeatable).");
            }
        });
        command.SetAction((parse, interrupted) => TunnelSession.RunAsync(
            "mesh",
            parse,
            flags,
            _ => { },
            async (server, cancellationToken) =>
            {
                await Console.Error.WriteLineAsync($"routing as {server.Peer.NodeId} for {server.Mesh!.Neighbors} neighbour(s)").ConfigureAwait(false);
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            },
            interrupted));
        return command;
    }
}
