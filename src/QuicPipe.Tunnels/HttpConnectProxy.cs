using System.Net;
using System.Net.Sockets;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>
/// An HTTP CONNECT forward proxy (RFC 9110 section 9.3.6) whose only destinations are ports on peers:
/// <c>CONNECT &lt;nodeid&gt;.quicpipe:PORT HTTP/1.1</c> opens a TCP-over-QUIC tunnel (through the
/// <see cref="PeerTunnelConnector"/>) to PORT on that peer, where a <see cref="TcpExposer"/> connects it to its
/// loopback. Answers and limits: docs/proxies.md.
/// </summary>
public sealed class HttpConnectProxy : PeerProxy
{
    private const string Challenge = "Proxy-Authenticate: Basic realm=\"quicpipe\", charset=\"UTF-8\"";

    private HttpConnectProxy(PeerTunnelConnector connector, IPEndPoint? listen, ProxyOptions options)
        : base(connector, listen, options)
    {
    }

    /// <summary>Starts listening on <paramref name="listen"/>; tunnels go through <paramref name="connector"/>.</summary>
    public static HttpConnectProxy Start(PeerTunnelConnector connector, IPEndPoint listen, ProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(listen);
        return new(connector, listen, options);
    }

    /// <summary>A proxy without a listener of its own: the handler of a server's TCP listener (<see cref="TunnelServerBuilderExtensions"/>).</summary>
    internal static HttpConnectProxy CreateHandler(PeerTunnelConnector connector, ProxyOptions options) => new(connector, listen: null, options);

    private protected override async Task HandleAsync(Socket client, CancellationToken stopping)
    {
        client.NoDelay = true;
        var reader = new ClientPrefixReader(client, Options.MaxHeaderBytes);
        ClientReadResult read;
        HttpConnectRequest request;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            deadline.CancelAfter(Options.HeaderTimeout);
            try
            {
                (read, request) = await reader.ReadAsync<HttpConnectRequest>(HttpConnectRequest.TryParse, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                await FailAsync(client, null, 408, "Request Timeout", $"The request head did not arrive within {Options.HeaderTimeout.TotalSeconds:0.#} s.", stopping).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        switch (read)
        {
            case ClientReadResult.Closed:
                CountClosed();
                return;
            case ClientReadResult.TooLarge:
                await FailAsync(client, null, 431, "Request Header Fields Too Large", $"The request head is larger than {Options.MaxHeaderBytes} bytes.", stopping).ConfigureAwait(false);
                return;
            case ClientReadResult.Invalid:
                await FailAsync(client, null, 400, "Bad Request", "Not an HTTP/1.x request head (CONNECT host:port HTTP/1.1, CRLF line ends).", stopping).ConfigureAwait(false);
                return;
        }

        if (Options.Credentials is { } credentials && !credentials.MatchesBasic(request.ProxyAuthorization))
        {
            await FailAsync(client, request.Target, 407, "Proxy Authentication Required", "This proxy needs a user name and password (Basic).", stopping, Challenge).ConfigureAwait(false);
            return;
        }

        if (!request.IsConnect)
        {
            await FailAsync(client, request.Target, 405, "Method Not Allowed", "This proxy only tunnels: use CONNECT <nodeid>.quicpipe:PORT.", stopping, "Allow: CONNECT").ConfigureAwait(false);
            return;
        }

        switch (PeerHostName.Parse(request.Host, out var peer))
        {
            case PeerHostNameKind.NotAPeer:
                await FailAsync(client, request.Target, 403, "Forbidden", "This proxy only reaches peers, named <nodeid>.quicpipe.", stopping).ConfigureAwait(false);
                return;
            case PeerHostNameKind.InvalidNodeId:
                await FailAsync(client, request.Target, 502, "Bad Gateway", "The name before .quicpipe is not a NodeId (52 base32 characters).", stopping).ConfigureAwait(false);
                return;
        }

        var (outcome, stream) = await Connector.ConnectAsync(peer, request.Port, stopping).ConfigureAwait(false);
        if (outcome != PeerTunnelOutcome.Connected)
        {
            var (status, reason, explanation) = Describe(outcome);
            await FailAsync(client, request.Target, status, reason, explanation, stopping).ConfigureAwait(false);
            return;
        }

        await TunnelAsync(client, stream!, HttpProxyAnswers.Established, reader.Remaining, stopping).ConfigureAwait(false);
    }

    private static (int Status, string Reason, string Explanation) Describe(PeerTunnelOutcome outcome) => outcome switch
    {
        PeerTunnelOutcome.PeerRefused => (403, "Forbidden", "The peer refused: it does not allow this node, or does not expose this port."),
        PeerTunnelOutcome.PortRefused => (502, "Bad Gateway", "The port on the peer refused the connection (nothing listens there)."),
        PeerTunnelOutcome.TargetUnreachable => (502, "Bad Gateway", "The peer could not connect to the port."),
        PeerTunnelOutcome.TimedOut => (504, "Gateway Timeout", "The peer did not answer in time."),
        PeerTunnelOutcome.Failed => (502, "Bad Gateway", "The peer answered the tunnel request with an error."),
        _ => (502, "Bad Gateway", "The peer could not be reached."),
    };

    private Task FailAsync(Socket client, string? target, int status, string reason, string explanation, CancellationToken stopping, string? extraHeader = null) =>
        FailAsync(client, target, $"{status} {reason}", HttpProxyAnswers.Failure(status, reason, explanation, extraHeader), stopping);
}
