using System.CommandLine;
using System.Text;
using QuicPipe.Cli.Internal;
using QuicPipe.Dataplane;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe accept --allow NODEID</c>: wait for a peer's dial through the relay; netcat-like.</summary>
internal static class AcceptCommand
{
    // An offer is one line of about 200 characters.
    private const int MaxOfferFileBytes = 64 * 1024;

    public static Command Create()
    {
        var flags = new PeerCommandOptions();
        var netcat = new NetcatOptions();
        var allow = new Option<NodeId[]>("--allow")
        {
            Description = "A NodeId that may dial this peer; repeat for several. Dials from anyone else are refused (the dialer is told so).",
            HelpName = "NODEID",
            Arity = ArgumentArity.ZeroOrMore,
            CustomParser = result => PeerCommandOptions.ParseNodeIds(result, "--allow"),
        };
        var offerIn = new Option<string?>("--offer-in")
        {
            Description = "No signalling: accept the dial described by this offer (from 'quicpipe dial --offer-out'), given as text or as @FILE. Its dialer is allowed.",
            HelpName = "OFFER|@FILE",
        };
        var command = new Command("accept", "Wait for one peer to dial this node through the relay and act like netcat: stdin goes to the peer, what it sends goes to stdout. EOF on stdin half-closes; the command exits 0 once both directions are finished.")
        {
            allow, offerIn,
        };
        flags.AddTo(command);
        netcat.AddTo(command);
        CliOptions.AddValidator(command, result =>
        {
            if (result.GetValue(allow) is not { Length: > 0 } && result.GetValue(offerIn) is null)
            {
                result.AddError("Say who may dial: --allow NODEID (repeatable) or --offer-in OFFER.");
            }
        });
        command.SetAction((parse, interrupted) =>
        {
            DialOffer? offer = null;
            if (parse.GetValue(offerIn) is { } text)
            {
                if (!TryReadOffer(text, out offer, out var error))
                {
                    Console.Error.WriteLine($"quicpipe accept: --offer-in: {error}");
                    return Task.FromResult(2);
                }
            }

            return PeerSession.RunAsync(
                "accept",
                parse,
                flags,
                netcat,
                options =>
                {
                    foreach (var id in parse.GetValue(allow) ?? [])
                    {
                        options.AllowedDialers.Add(id);
                    }
                },
                async (server, cancellationToken) =>
                {
                    var endpoint = server.Peer;
                    if (offer is not null)
                    {
                        await endpoint.AcceptOfferAsync(offer, cancellationToken).ConfigureAwait(false);
                    }

                    await Console.Error.WriteLineAsync($"accepting as {endpoint.NodeId} (public address {endpoint.PublicEndPoint})").ConfigureAwait(false);
                    var connection = await PeerReach.AcceptAsync(server, cancellationToken).ConfigureAwait(false);
                    return (connection, await NetcatSession.AcceptAsync(connection, cancellationToken).ConfigureAwait(false));
                },
                interrupted);
        });
        return command;
    }

    private static bool TryReadOffer(string text, out DialOffer? offer, out string? error)
    {
        offer = null;
        if (text.StartsWith('@'))
        {
            var path = text[1..];
            try
            {
                text = Encoding.UTF8.GetString(SmallFile.Read(path, MaxOfferFileBytes, "an offer file"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                // SmallFile's messages name the file (and say what it is instead: a directory, too large).
                error = e is InvalidDataException or FileNotFoundException ? e.Message : $"cannot read {path}: {e.Message}";
                return false;
            }
        }

        return DialOffer.TryParse(text, out offer, out error);
    }
}
