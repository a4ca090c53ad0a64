using System.Net;
using System.Text;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// The proxy auto-config file the HTTP proxy serves at <c>/proxy.pac</c>: peers (<c>*.quicpipe</c>) through this
/// proxy, every other host DIRECT, so a browser pointed at it keeps the rest of the web as it was. The proxy's
/// address in it is the one the client connected to: the address that reached us is one the browser can reach.
/// </summary>
internal static class ProxyAutoConfig
{
    public const string Path = "/proxy.pac";

    public const string ContentType = "application/x-ns-proxy-autoconfig";

    public static string Script(EndPoint proxy)
    {
        // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d; the browser knows it as a.b.c.d.
        var address = proxy is IPEndPoint { Address.IsIPv4MappedToIPv6: true } mapped
            ? new IPEndPoint(mapped.Address.MapToIPv4(), mapped.Port).ToString()
            : proxy.ToString();
        return new StringBuilder()
            .Append("// quicpipe proxy: peers (<nodeid>.quicpipe) through this proxy, everything else direct.\n")
            .Append("function FindProxyForURL(url, host) {\n")
            .Append("  var name = host.toLowerCase().replace(/\\.$/, \"\");\n")
            .Append("  if (name.length > 9 && name.substring(name.length - 9) == \".quicpipe\")\n")
            .Append("    return \"PROXY ").Append(address).Append("\";\n")
            .Append("  return \"DIRECT\";\n")
            .Append("}\n")
            .ToString();
    }

    /// <summary>The whole 200 response (no body for HEAD); <paramref name="close"/> adds <c>Connection: close</c>.</summary>
    public static byte[] Response(EndPoint proxy, bool headOnly, bool close)
    {
        var body = Encoding.ASCII.GetBytes(Script(proxy));
        var head = $"HTTP/1.1 200 OK\r\nContent-Type: {ContentType}\r\nContent-Length: {body.Length}\r\nCache-Control: no-cache\r\n{(close ? "Connection: close\r\n" : string.Empty)}\r\n";
        return [.. Encoding.ASCII.GetBytes(head), .. headOnly ? [] : body];
    }
}
