using System.Text;

namespace QuicPipe.Tunnels.Internal;

/// <summary>The HTTP proxy's own responses: the CONNECT success line, and failures that close the connection.</summary>
internal static class HttpProxyAnswers
{
    /// <summary>After it the connection is the tunnel (RFC 9110: a 2xx to CONNECT has no body).</summary>
    public static readonly byte[] Established = "HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray();

    /// <summary>The status for a tunnel that could not be opened.</summary>
    public static HttpFailure Describe(PeerTunnelOutcome outcome) => outcome switch
    {
        PeerTunnelOutcome.PeerRefused => new(403, "Forbidden", "The peer refused: it does not allow this node, or does not expose this port."),
        PeerTunnelOutcome.PortRefused => new(502, "Bad Gateway", "The port on the peer refused the connection (nothing listens there)."),
        PeerTunnelOutcome.TargetUnreachable => new(502, "Bad Gateway", "The peer could not connect to the port."),
        PeerTunnelOutcome.TimedOut => new(504, "Gateway Timeout", "The peer did not answer in time."),
        PeerTunnelOutcome.Failed => new(502, "Bad Gateway", "The peer answered the tunnel request with an error."),
        _ => new(502, "Bad Gateway", "The peer could not be reached."),
    };

    /// <summary>A failure with a one-line text body saying why, so that <c>curl -v</c> shows it.</summary>
    public static byte[] Failure(int status, string reason, string explanation, string? extraHeader = null)
    {
        var body = explanation + "\n";
        var head = new StringBuilder()
            .Append("HTTP/1.1 ").Append(status).Append(' ').Append(reason).Append("\r\n")
            .Append("Content-Type: text/plain; charset=utf-8\r\n")
            .Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(body)).Append("\r\n")
            .Append("Connection: close\r\n");
        if (extraHeader is not null)
        {
            head.Append(extraHeader).Append("\r\n");
        }

        head.Append("\r\n").Append(body);
        return Encoding.UTF8.GetBytes(head.ToString());
    }
}
