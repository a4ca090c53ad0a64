namespace QuicPipe.Tunnels;

/// <summary>The four shapes of an HTTP/1.1 request target (RFC 9112 section 3.2).</summary>
public enum HttpTargetForm
{
    /// <summary><c>/path?query</c>: a request to the proxy itself (e.g. <c>GET /proxy.pac</c>).</summary>
    Origin,

    /// <summary><c>http://host[:port]/path</c>: what clients send a forwarding proxy for http:// URLs.</summary>
    Absolute,

    /// <summary><c>host:port</c>: CONNECT only.</summary>
    Authority,

    /// <summary><c>*</c>: server-wide OPTIONS.</summary>
    Asterisk,
}
