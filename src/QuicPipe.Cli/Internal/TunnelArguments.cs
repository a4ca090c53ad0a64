using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>Parsers for the tunnel commands' positional arguments; errors are reported at parse time (exit 2).</summary>
internal static class TunnelArguments
{
    /// <summary><c>[BIND:]LOCALPORT</c>; the bind address defaults to loopback so a tunnel is never opened to the LAN by accident.</summary>
    public static IPEndPoint ParseListen(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        var colon = text.LastIndexOf(':');
        var host = colon < 0 ? "127.0.0.1" : text[..colon].Trim('[', ']');
        var portText = colon < 0 ? text : text[(colon + 1)..];
        if (!IPAddress.TryParse(host, out var address))
        {
            result.AddError($"'{text}': '{host}' is not an IP address (expected [BIND:]LOCALPORT, e.g. 8080 or 127.0.0.1:8080).");
            return new IPEndPoint(IPAddress.None, 0);
        }

        if (!TryParsePort(portText, out var port))
        {
            result.AddError($"'{text}': '{portText}' is not a port (1-65535).");
            return new IPEndPoint(IPAddress.None, 0);
        }

        return new IPEndPoint(address, port);
    }

    /// <summary><c>NODEID:PORT</c>: a NodeId never contains ':', so the last one splits.</summary>
    public static (NodeId Node, int Port) ParseTarget(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !NodeId.TryParse(text.AsSpan(0, colon), out var node))
        {
            result.AddError($"'{text}' is not NODEID:PORT (the NodeId as 'quicpipe keygen' prints it, then the port on the peer).");
            return default;
        }

        if (!TryParsePort(text[(colon + 1)..], out var port))
        {
            result.AddError($"'{text}': '{text[(colon + 1)..]}' is not a port (1-65535).");
            return default;
        }

        return (node, port);
    }

    /// <summary>Ports to expose: each 1-65535.</summary>
    public static int[] ParsePorts(ArgumentResult result)
    {
        var ports = new List<int>();
        foreach (var token in result.Tokens)
        {
            if (TryParsePort(token.Value, out var port))
            {
                ports.Add(port);
            }
            else
            {
                result.AddError($"'{token.Value}' is not a port (1-65535).");
            }
        }

        return [.. ports];
    }

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}
