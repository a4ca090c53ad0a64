using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using QuicPipe.Cli.Internal;
using QuicPipe.Tunnels;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe proxy --http ADDR:PORT --socks5 ADDR:PORT</c>: local proxies whose destinations are ports on peers.</summary>
internal static class ProxyCommand
{
    public static Command Create()
    {
        var flags = new PeerCommandOptions();
        var http = new Option<IPEndPoint?>("--http")
        {
            Description = "Serve an HTTP proxy here ([BIND:]PORT, BIND defaults to 127.0.0.1): CONNECT <nodeid>.quicpipe:PORT and plain http://<nodeid>.quicpipe:PORT/ requests, e.g. curl -x http://127.0.0.1:PORT http://<nodeid>.quicpipe:8080/; browsers can use its auto-config file http://127.0.0.1:PORT/proxy.pac.",
            HelpName = "[BIND:]PORT",
            CustomParser = TunnelArguments.ParseListen,
        };
        var socks5 = new Option<IPEndPoint?>("--socks5")
        {
            Description = "Serve a SOCKS5 proxy here ([BIND:]PORT, BIND defaults to 127.0.0.1). Clients must send the host name <nodeid>.quicpipe, e.g. curl --socks5-hostname 127.0.0.1:PORT.",
            HelpName = "[BIND:]PORT",
            CustomParser = TunnelArguments.ParseListen,
        };
        var user = new Option<ProxyCredentials?>("--proxy-user")
        {
            Description = "Require this user name and password (HTTP Proxy-Authorization: Basic; SOCKS5 username/password). Without it anyone who can connect to the proxy may use it.",
            HelpName = "USER:PASS",
            CustomParser = ParseCredentials,
        };
        var maxConnections = CliOptions.Int("--max-connections", "Client connections each proxy serves at once; more wait in the listen backlog.", 512, 1, 65536, "N");
        var headerTimeout = CliOptions.Duration("--header-timeout", "How long a client may take to send its whole request before it is closed.", TimeSpan.FromSeconds(10), positive: true);
        var command = new Command("proxy", "Serve an HTTP and/or SOCKS5 proxy whose destinations are peers: a request for <nodeid>.quicpipe:PORT dials that peer through the relay, or with --neighbor through a circuit when no relay knows it (once; later requests share the connection) and tunnels to PORT on its 127.0.0.1, where the peer runs 'quicpipe expose PORT --allow <our NodeId>'. Runs until interrupted.")
        {
            http, socks5, user, maxConnections, headerTimeout,
        };
        flags.AddTo(command);
        CliOptions.AddValidator(command, result =>
        {
            if (result.GetResult(http) is null && result.GetResult(socks5) is null)
            {
                result.AddError("give --http [BIND:]PORT, --socks5 [BIND:]PORT, or both.");
            }
        });
        command.SetAction((parse, interrupted) =>
        {
            var options = new ProxyOptions
            {
                Credentials = parse.GetValue(user),
                MaxConnections = parse.GetValue(maxConnections),
                HeaderTimeout = parse.GetValue(headerTimeout),
            };
            return TunnelSession.RunAsync(
                "proxy",
                parse,
                flags,
                _ => { },
                (server, cancellationToken) => new ProxySession(server, parse.GetValue(http), parse.GetValue(socks5), options, parse.GetValue(flags.Timeout), parse.GetValue(flags.NoCircuit)).RunAsync(cancellationToken),
                interrupted);
        });
        return command;
    }

    private static ProxyCredentials? ParseCredentials(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (ProxyCredentials.TryParse(text, out var credentials))
        {
            return credentials;
        }

        result.AddError("--proxy-user: expected USER:PASS (a non-empty user without ':', each at most 255 bytes).");
        return null;
    }
}
