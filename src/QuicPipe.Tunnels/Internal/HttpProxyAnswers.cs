using System.Text;

namespace QuicPipe.Tunnels.Internal;

/// <summary>The responses an HTTP CONNECT proxy sends: one success line, and failures that close the connection.</summary>
internal static class HttpProxyAnswers
{
    /// <summary>After it the connection is the tunnel (RFC 9110: a 2xx to CONNECT has no body).</summary>
    public static readonly byte[] Established = "HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray();

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
