using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Quic;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>
/// An HTTP/1.1 proxy whose only destinations are ports on peers. <c>CONNECT &lt;nodeid&gt;.quicpipe:PORT</c> opens a
/// TCP-over-QUIC tunnel (through the <see cref="PeerTunnelConnector"/>) to PORT on that peer, where a
/// <see cref="TcpExposer"/> connects it to its loopback (RFC 9110 section 9.3.6). Absolute-form requests
/// (<c>GET http://&lt;nodeid&gt;.quicpipe:PORT/path</c>, what browsers, curl -x and anything honouring http_proxy send
/// for http:// URLs) are forwarded in origin-form over such a tunnel, several on one client connection
/// (<see cref="HttpRequestForwarder"/>). <c>GET /proxy.pac</c> is the auto-config file that sends browsers' peer names
/// here and everything else direct. Answers and limits: docs/proxies.md.
/// </summary>
public sealed class HttpProxy : PeerProxy
{
    private const string Challenge = "Proxy-Authenticate: Basic realm=\"quicpipe\", charset=\"UTF-8\"";

    // The client's bytes come through a pipe of pooled blocks; reads of this size keep a body's writes to the tunnel
    // large without holding much per idle connection.
    private const int ClientReadSize = 16 * 1024;

    private long _forwarded;

    private HttpProxy(PeerTunnelConnector connector, IPEndPoint? listen, ProxyOptions options)
        : base(connector, listen, options)
    {
    }

    /// <summary>Requests forwarded in origin-form whose response was relayed whole.</summary>
    public long ForwardedRequests => Interlocked.Read(ref _forwarded);

    /// <summary>Starts listening on <paramref name="listen"/>; tunnels go through <paramref name="connector"/>.</summary>
    public static HttpProxy Start(PeerTunnelConnector connector, IPEndPoint listen, ProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(listen);
        return new(connector, listen, options);
    }

    /// <summary>A proxy without a listener of its own: the handler of a server's TCP listener (<see cref="TunnelServerBuilderExtensions"/>).</summary>
    internal static HttpProxy CreateHandler(PeerTunnelConnector connector, ProxyOptions options) => new(connector, listen: null, options);

    private protected override async Task HandleAsync(Socket client, CancellationToken stopping)
    {
        client.NoDelay = true;
        var input = PipeReader.Create(new NetworkStream(client, ownsSocket: false), new StreamPipeReaderOptions(bufferSize: ClientReadSize, leaveOpen: true));
        using var heads = new HttpHeadReader(Options.MaxHeaderBytes);
        var forwarder = new HttpRequestForwarder(Connector, client, input, Options);
        try
        {
            await ServeAsync(client, input, heads, forwarder, stopping).ConfigureAwait(false);
        }
        finally
        {
            // The tunnel first: an aborted stream may still hold a request's bytes from the pipe's pooled blocks.
            await forwarder.DisposeAsync().ConfigureAwait(false);
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Serves the client's requests in turn until one ends the connection.</summary>
    private async Task ServeAsync(Socket client, PipeReader input, HttpHeadReader heads, HttpRequestForwarder forwarder, CancellationToken stopping)
    {
        for (var first = true; ; first = false)
        {
            ClientReadResult read;
            HttpProxyRequest request;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                // The first head has HeaderTimeout from the connect; a kept-alive connection as long to start the next.
                deadline.CancelAfter(Options.HeaderTimeout);
                try
                {
                    (read, request) = await heads.ReadAsync<HttpProxyRequest>(input, HttpProxyRequest.TryParse, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                {
                    if (first || heads.Buffered > 0)
                    {
                        await FailAsync(client, null, 408, "Request Timeout", $"The request head did not arrive within {Options.HeaderTimeout.TotalSeconds:0.#} s.", stopping).ConfigureAwait(false);
                    }
                    else
                    {
                        // An idle kept-alive connection: closing it is normal, not a failed request.
                        await ProxyConnection.AnswerAndCloseAsync(client, ReadOnlyMemory<byte>.Empty, stopping).ConfigureAwait(false);
                    }

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
                    if (first || heads.Buffered > 0)
                    {
                        CountClosed();
                    }

                    return;
                case ClientReadResult.TooLarge:
                    await FailAsync(client, null, 431, "Request Header Fields Too Large", $"The request head is larger than {Options.MaxHeaderBytes} bytes.", stopping).ConfigureAwait(false);
                    return;
                case ClientReadResult.Invalid:
                    await FailAsync(client, null, 400, "Bad Request", "Not an HTTP/1.x request head (METHOD target HTTP/1.1, CRLF line ends).", stopping).ConfigureAwait(false);
                    return;
            }

            if (!await ServeRequestAsync(client, input, forwarder, request, stopping).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>One request; true when the connection stays open for the next.</summary>
    private async Task<bool> ServeRequestAsync(Socket client, PipeReader input, HttpRequestForwarder forwarder, HttpProxyRequest request, CancellationToken stopping)
    {
        if (request.Form == HttpTargetForm.Origin)
        {
            // To the proxy itself. No credentials asked: a browser fetches its PAC file directly, never through the
            // proxy, so it would have none to give; the file says nothing but this proxy's address.
            return await ServeOwnResourceAsync(client, request, stopping).ConfigureAwait(false);
        }

        if (Options.Credentials is { } credentials && !credentials.MatchesBasic(request.ProxyAuthorization))
        {
            await FailAsync(client, request.Target, 407, "Proxy Authentication Required", "This proxy needs a user name and password (Basic).", stopping, Challenge).ConfigureAwait(false);
            return false;
        }

        if (request.Form == HttpTargetForm.Asterisk)
        {
            await FailAsync(client, request.Target, 400, "Bad Request", "OPTIONS * names no peer: use an http://<nodeid>.quicpipe:PORT/ URL.", stopping).ConfigureAwait(false);
            return false;
        }

        switch (PeerHostName.Parse(request.Host, out var peer))
        {
            case PeerHostNameKind.NotAPeer:
                await FailAsync(client, request.Target, 403, "Forbidden", "This proxy only reaches peers, named <nodeid>.quicpipe.", stopping).ConfigureAwait(false);
                return false;
            case PeerHostNameKind.InvalidNodeId:
                await FailAsync(client, request.Target, 502, "Bad Gateway", "The name before .quicpipe is not a NodeId (52 base32 characters).", stopping).ConfigureAwait(false);
                return false;
        }

        if (request.IsConnect)
        {
            await ConnectAsync(client, input, forwarder, request, peer, stopping).ConfigureAwait(false);
            return false;
        }

        var result = await forwarder.ForwardAsync(request, peer, stopping).ConfigureAwait(false);
        if (result.Failure is { } failure)
        {
            if (failure.Status == 0)
            {
                TcpStreamPump.Reset(client);
                return false;
            }

            await FailAsync(client, request.Target, failure.Status, failure.Reason, failure.Explanation, stopping).ConfigureAwait(false);
            return false;
        }

        Interlocked.Increment(ref _forwarded);
        if (!result.KeepAlive)
        {
            await ProxyConnection.AnswerAndCloseAsync(client, ReadOnlyMemory<byte>.Empty, stopping).ConfigureAwait(false);
        }

        return result.KeepAlive;
    }

    /// <summary>CONNECT: the client's connection becomes the tunnel; bytes it sent after the head go first.</summary>
    private async Task ConnectAsync(Socket client, PipeReader input, HttpRequestForwarder forwarder, HttpProxyRequest request, NodeId peer, CancellationToken stopping)
    {
        // A CONNECT after forwarded requests on the same connection: their tunnel is not needed any more.
        await forwarder.DisposeAsync().ConfigureAwait(false);
        var (outcome, stream) = await Connector.ConnectAsync(peer, request.Port, stopping).ConfigureAwait(false);
        if (outcome != PeerTunnelOutcome.Connected)
        {
            var failure = HttpProxyAnswers.Describe(outcome);
            await FailAsync(client, request.Target, failure.Status, failure.Reason, failure.Explanation, stopping).ConfigureAwait(false);
            return;
        }

        // What the pipe already holds was read from the socket after the head: it goes into the tunnel first.
        byte[] early = [];
        if (input.TryRead(out var buffered))
        {
            early = buffered.Buffer.ToArray();
            input.AdvanceTo(buffered.Buffer.End);
        }

        await TunnelAsync(client, stream!, HttpProxyAnswers.Established, early, stopping).ConfigureAwait(false);
    }

    /// <summary><c>GET /proxy.pac</c> (and HEAD); any other path on the proxy itself is 404.</summary>
    private async Task<bool> ServeOwnResourceAsync(Socket client, HttpProxyRequest request, CancellationToken stopping)
    {
        var path = request.Path.Split('?')[0];
        if (path != ProxyAutoConfig.Path)
        {
            await FailAsync(client, request.Target, 404, "Not Found", $"This is a proxy: send http://<nodeid>.quicpipe:PORT/ URLs to it, or fetch {ProxyAutoConfig.Path}.", stopping).ConfigureAwait(false);
            return false;
        }

        if (request.Method is not ("GET" or "HEAD"))
        {
            await FailAsync(client, request.Target, 405, "Method Not Allowed", "The auto-config file is read with GET.", stopping, "Allow: GET, HEAD").ConfigureAwait(false);
            return false;
        }

        // A GET with a body (unusual, but allowed) is answered and closed: the body is not read, so it must not be
        // taken for the next request.
        var hasBody = !HttpBodyFraming.TryForRequest(request.Headers, out var framing) || framing.Kind != HttpBodyKind.None;
        var keepAlive = request.IsHttp11 && !hasBody && !HttpHeadWriter.HasConnectionOption(request.Headers, "close");
        try
        {
            var proxyAddress = client.LocalEndPoint ?? LocalEndPoint;
            await client.SendAsync(ProxyAutoConfig.Response(proxyAddress, headOnly: request.Method == "HEAD", close: !keepAlive), SocketFlags.None, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return false;
        }

        if (!keepAlive)
        {
            await ProxyConnection.AnswerAndCloseAsync(client, ReadOnlyMemory<byte>.Empty, stopping).ConfigureAwait(false);
        }

        return keepAlive;
    }

    private Task FailAsync(Socket client, string? target, int status, string reason, string explanation, CancellationToken stopping, string? extraHeader = null) =>
        FailAsync(client, target, $"{status} {reason}", HttpProxyAnswers.Failure(status, reason, explanation, extraHeader), stopping);
}
