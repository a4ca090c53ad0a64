using System.CommandLine;
using QuicPipe.Cli.Internal;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe dial NODEID</c>: connect to a peer through the relay; stdin to it, its bytes to stdout.</summary>
internal static class DialCommand
{
    private static readonly TimeSpan OfferTimeout = TimeSpan.FromSeconds(120);

    public static Command Create()
    {
        var flags = new PeerCommandOptions();
        var netcat = new NetcatOptions();
        var peer = new Argument<NodeId>("NODEID")
        {
            Description = "The peer to dial (its 'quicpipe keygen' output). Its certificate must match: the connection is pinned to it.",
            CustomParser = result => PeerCommandOptions.ParseNodeId(result, "NODEID") ?? default,
        };
        var offerOut = new Option<string?>("--offer-out")
        {
            Description = "No signalling: write an offer for the peer's 'quicpipe accept --offer-in' to FILE (or to stderr as 'offer: ...' without FILE), then dial with it, waiting up to --timeout (120s unless given) for the peer to take it.",
            HelpName = "FILE",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var command = new Command("dial", "Connect to a peer by NodeId through the relay and act like netcat: stdin goes to the peer, what it sends goes to stdout. EOF on stdin half-closes; the command exits 0 once both directions are finished.")
        {
            peer, offerOut,
        };
        flags.AddTo(command, metrics: false);
        netcat.AddTo(command);
        command.SetAction((parse, interrupted) =>
        {
            var target = parse.GetValue(peer);
            var offerMode = parse.GetResult(offerOut) is not null;
            var offerFile = parse.GetValue(offerOut);
            var timeout = parse.GetResult(flags.Timeout) is { Implicit: false } ? parse.GetValue(flags.Timeout) : offerMode ? OfferTimeout : parse.GetValue(flags.Timeout);
            return PeerSession.RunAsync(
                "dial",
                parse,
                flags,
                netcat,
                options => options.HandshakeTimeout = timeout,
                async (server, cancellationToken) =>
                {
                    var endpoint = server.Peer;
                    QuicConnection connection;
                    if (offerMode)
                    {
                        var offer = endpoint.CreateOffer();
                        await PublishAsync(offer, offerFile, cancellationToken).ConfigureAwait(false);
                        connection = await endpoint.DialOfferAsync(offer, target, timeout, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        connection = await PeerReach.DialAsync(server, target, parse.GetValue(flags.NoCircuit), cancellationToken).ConfigureAwait(false);
                    }

                    return (connection, await NetcatSession.OpenAsync(connection, cancellationToken).ConfigureAwait(false));
                },
                interrupted);
        });
        return command;
    }

    private static async Task PublishAsync(DialOffer offer, string? file, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(file))
        {
            await Console.Error.WriteLineAsync($"offer: {offer}").ConfigureAwait(false);
            return;
        }

        // Written whole, then renamed, so a script polling for the file never reads half an offer.
        var temporary = file + ".tmp";
        await File.WriteAllTextAsync(temporary, offer + "\n", cancellationToken).ConfigureAwait(false);
        File.Move(temporary, file, overwrite: true);
    }
}
