using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;

namespace QuicPipe.Cli.Internal;

/// <summary><c>--metrics [BIND:]PORT</c>, which every long-running command takes (docs/metrics.md).</summary>
internal static class MetricsOption
{
    public static Option<IPEndPoint?> Create() => new("--metrics")
    {
        Description = "Serve Prometheus metrics at http://[BIND:]PORT/metrics and a liveness check at /healthz; BIND defaults to 127.0.0.1.",
        HelpName = "[BIND:]PORT",
        CustomParser = Parse,
    };

    private static IPEndPoint? Parse(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (TryParse(text, out var endpoint))
        {
            return endpoint;
        }

        result.AddError($"--metrics: '{text}' is not [BIND:]PORT (a port 1-65535, e.g. 9100, 0.0.0.0:9100 or [::1]:9100).");
        return null;
    }

    /// <summary>PORT, ADDRESS:PORT or [IPv6]:PORT; a bare port binds loopback, so metrics are never opened to the LAN by accident.</summary>
    internal static bool TryParse(string text, out IPEndPoint endpoint)
    {
        endpoint = new IPEndPoint(IPAddress.Loopback, 0);
        var colon = text.LastIndexOf(':');
        var host = colon < 0 ? null : text[..colon];
        var portText = colon < 0 ? text : text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var address = IPAddress.Loopback;
        if (host is not null)
        {
            // An IPv6 address needs its brackets: "::1:9100" would be ambiguous.
            var bracketed = host.StartsWith('[') && host.EndsWith(']');
            if (!IPAddress.TryParse(bracketed ? host[1..^1] : host, out var parsed) ||
                (parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) != bracketed)
            {
                return false;
            }

            address = parsed;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
