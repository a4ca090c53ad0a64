using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// Forwards the absolute-form requests of one client connection to the servers behind peers, one request at a time:
/// the rewritten head and the body go up a tunnel stream, the response comes back streamed. The stream is kept for
/// the next request to the same peer and port while both the client and the origin keep their connections alive, so
/// a page's requests cost one tunnel (one round trip to the peer, one TCP connect on its side) instead of one each,
/// and the origin sees one persistent connection, as it would from a browser without a proxy.
/// </summary>
internal sealed class HttpRequestForwarder(PeerTunnelConnector connector, Socket client, PipeReader clientInput, ProxyOptions options) : IAsyncDisposable
{
    /// <summary>Largest response head accepted from an origin (larger: 502); more than requests get, for cookies.</summary>
    public const int MaxResponseHeadBytes = 64 * 1024;

    private readonly HttpHeadReader _responseHeads = new(MaxResponseHeadBytes);
    private readonly HttpBodyFramer _requestBody = new();
    private readonly HttpBodyFramer _responseBody = new();
    private readonly ArrayBufferWriter<byte> _head = new(1024);
    private readonly SocketBodySink _toClient = new(client);

    // The tunnel stream kept from the previous request, with where it leads; null when there is none.
    private Upstream? _upstream;

    private sealed record Upstream(NodeId Peer, int Port, QuicStream Stream, QuicStreamBodySink Sink);

    private enum RequestBodyEnd
    {
        Done,
        Invalid,
        ClientGone,
        UpstreamGone,
        Cancelled,
    }

    /// <summary>Forwards <paramref name="request"/> (absolute-form, to <paramref name="peer"/>) and streams its response back.</summary>
    public async Task<HttpForwardResult> ForwardAsync(HttpProxyRequest request, NodeId peer, CancellationToken stopping)
    {
        if (!HttpBodyFraming.TryForRequest(request.Headers, out var requestFraming))
        {
            return HttpForwardResult.Fail(400, "Bad Request", "The request body's length is unclear (Content-Length with Transfer-Encoding, a coding other than chunked, or a bad Content-Length).");
        }

        var (upstream, failure) = await GetUpstreamAsync(peer, request.Port, stopping).ConfigureAwait(false);
        if (upstream is null)
        {
            return HttpForwardResult.Fail(failure!.Value);
        }

        _head.ResetWrittenCount();
        HttpHeadWriter.WriteRequest(request, _head);
        try
        {
            await upstream.Stream.WriteAsync(_head.WrittenMemory, endStream: false, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException or OperationCanceledException)
        {
            await DropUpstreamAsync(abort: true).ConfigureAwait(false);
            return HttpForwardResult.Fail(502, "Bad Gateway", "The tunnel to the peer ended before the request was sent.");
        }

        _requestBody.Start(requestFraming);
        using var bodyStop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var headStop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        headStop.CancelAfter(options.ResponseTimeout);
        var body = CopyRequestBodyAsync(upstream, bodyStop.Token);
        var head = ReadFinalResponseHeadAsync(upstream.Stream, request, headStop.Token, stopping);

        // A request body the client breaks off or frames badly ends the exchange before any response is relayed, also
        // when the origin's answer to the part it got arrived at the same moment.
        await Task.WhenAny(body, head).ConfigureAwait(false);
        if (body.IsCompleted && body.Result != RequestBodyEnd.Done)
        {
            await headStop.CancelAsync().ConfigureAwait(false);
            await head.ConfigureAwait(false);
            await DropUpstreamAsync(abort: true).ConfigureAwait(false);
            return body.Result switch
            {
                RequestBodyEnd.Invalid => HttpForwardResult.Fail(400, "Bad Request", "The chunked request body is malformed."),
                RequestBodyEnd.UpstreamGone => HttpForwardResult.Fail(502, "Bad Gateway", "The tunnel to the peer ended while the request body was sent."),
                _ => HttpForwardResult.Close,
            };
        }

        var (response, headFailure) = await head.ConfigureAwait(false);
        var responseFraming = HttpBodyFraming.None;
        if (headFailure is null && !HttpBodyFraming.TryForResponse(request.Method, response.Status, response.Headers, out responseFraming))
        {
            headFailure = new HttpFailure(502, "Bad Gateway", "The server behind the peer sent a response whose length is unclear.");
        }

        if (headFailure is { } refused)
        {
            await EndRequestBodyAsync(body, bodyStop).ConfigureAwait(false);
            await DropUpstreamAsync(abort: true).ConfigureAwait(false);
            return HttpForwardResult.Fail(refused);
        }

        // The client's connection outlives this exchange only when both messages have a known end; the stream to the
        // origin only when the origin keeps its connection too. A request body still on its way means the origin
        // answered without reading it all: the connection is closed after the response (section 9.3 of RFC 9112).
        var requestComplete = body.IsCompletedSuccessfully && body.Result == RequestBodyEnd.Done;
        var keepClient = requestComplete && request.IsHttp11 && responseFraming.Kind != HttpBodyKind.UntilClose &&
            !HttpHeadWriter.HasConnectionOption(request.Headers, "close");
        var keepUpstream = keepClient && response.IsHttp11 && !HttpHeadWriter.HasConnectionOption(response.Headers, "close");

        _head.ResetWrittenCount();
        HttpHeadWriter.WriteResponse(response, close: !keepClient, _head);
        HttpBodyCopy copied;
        try
        {
            await client.SendAsync(_head.WrittenMemory, SocketFlags.None, stopping).ConfigureAwait(false);
            _responseBody.Start(responseFraming);
            copied = await HttpBodyCopier.CopyAsync(upstream.Stream.Input, _responseBody, _toClient, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or QuicStreamAbortedException or QuicConnectionException)
        {
            // The client or the tunnel went away with the response under way: nothing more can be told to either.
            await EndRequestBodyAsync(body, bodyStop).ConfigureAwait(false);
            await DropUpstreamAsync(abort: true).ConfigureAwait(false);
            return HttpForwardResult.Fail(HttpFailure.Silent);
        }

        await EndRequestBodyAsync(body, bodyStop).ConfigureAwait(false);
        if (copied != HttpBodyCopy.Done)
        {
            // The origin broke its own framing or closed early: the client must not take what it got as whole.
            await DropUpstreamAsync(abort: true).ConfigureAwait(false);
            return HttpForwardResult.Fail(HttpFailure.Silent);
        }

        if (!keepUpstream)
        {
            await DropUpstreamAsync(abort: false).ConfigureAwait(false);
        }

        return keepClient ? HttpForwardResult.Continue : HttpForwardResult.Close;
    }

    /// <summary>Ends the tunnel kept for the next request, if any (the client's connection is over).</summary>
    public async ValueTask DisposeAsync()
    {
        await DropUpstreamAsync(abort: false).ConfigureAwait(false);
        _responseHeads.Dispose();
    }

    private async Task<(Upstream? Upstream, HttpFailure? Failure)> GetUpstreamAsync(NodeId peer, int port, CancellationToken stopping)
    {
        if (_upstream is { } kept)
        {
            if (kept.Peer == peer && kept.Port == port && IsIdle(kept.Stream))
            {
                return (kept, null);
            }

            await DropUpstreamAsync(abort: !IsIdle(kept.Stream)).ConfigureAwait(false);
        }

        var (outcome, stream) = await connector.ConnectAsync(peer, port, stopping).ConfigureAwait(false);
        if (outcome != PeerTunnelOutcome.Connected)
        {
            return (null, HttpProxyAnswers.Describe(outcome));
        }

        _upstream = new Upstream(peer, port, stream!, new QuicStreamBodySink(stream!));
        return (_upstream, null);
    }

    /// <summary>
    /// A kept stream is reusable while the origin has neither closed its connection (the stream's end) nor sent bytes
    /// nobody asked for. The check cannot see a close still on its way: such a request fails with 502.
    /// </summary>
    private static bool IsIdle(QuicStream stream)
    {
        if (!stream.Input.TryRead(out var read))
        {
            return true;
        }

        stream.Input.AdvanceTo(read.Buffer.Start);
        return read.Buffer.IsEmpty && !read.IsCompleted && !read.IsCanceled;
    }

    private async Task DropUpstreamAsync(bool abort)
    {
        if (_upstream is not { } upstream)
        {
            return;
        }

        _upstream = null;
        if (abort)
        {
            // Also drops request bytes still queued from the client's pooled blocks, before those are released.
            await TcpStreamPump.AbortQuietlyAsync(upstream.Stream, TunnelErrorCodes.TcpReset).ConfigureAwait(false);
        }
        else
        {
            try
            {
                // FIN: the exposer half-closes its connection to the origin, which then closes its side.
                await upstream.Stream.CompleteWritesAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        await upstream.Stream.Input.CompleteAsync().ConfigureAwait(false);
    }

    private async Task<RequestBodyEnd> CopyRequestBodyAsync(Upstream upstream, CancellationToken cancellationToken)
    {
        try
        {
            return await HttpBodyCopier.CopyAsync(clientInput, _requestBody, upstream.Sink, cancellationToken).ConfigureAwait(false) switch
            {
                HttpBodyCopy.Done => RequestBodyEnd.Done,
                HttpBodyCopy.Invalid => RequestBodyEnd.Invalid,
                _ => RequestBodyEnd.ClientGone,
            };
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return RequestBodyEnd.ClientGone;
        }
        catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException)
        {
            return RequestBodyEnd.UpstreamGone;
        }
        catch (OperationCanceledException)
        {
            return RequestBodyEnd.Cancelled;
        }
    }

    /// <summary>Stops a request body the origin no longer waits for (it already answered) and waits for the copy to end.</summary>
    private static async Task EndRequestBodyAsync(Task<RequestBodyEnd> body, CancellationTokenSource stop)
    {
        if (!body.IsCompleted)
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }

        await body.ConfigureAwait(false);
    }

    /// <summary>
    /// Reads response heads until the final one, relaying 1xx heads to an HTTP/1.1 client (<c>100 Continue</c> is what
    /// a client sending <c>Expect</c> waits for). Failures come back as the status to answer.
    /// </summary>
    private async Task<(HttpResponseHead Head, HttpFailure? Failure)> ReadFinalResponseHeadAsync(QuicStream stream, HttpProxyRequest request, CancellationToken deadline, CancellationToken stopping)
    {
        try
        {
            while (true)
            {
                var (read, head) = await _responseHeads.ReadAsync<HttpResponseHead>(stream.Input, HttpResponseHead.TryParse, deadline).ConfigureAwait(false);
                switch (read)
                {
                    case ClientReadResult.Invalid:
                        return (default, new HttpFailure(502, "Bad Gateway", "The server behind the peer did not answer with an HTTP/1.x response."));
                    case ClientReadResult.TooLarge:
                        return (default, new HttpFailure(502, "Bad Gateway", $"The response head from the server behind the peer is larger than {MaxResponseHeadBytes} bytes."));
                    case ClientReadResult.Closed:
                        return (default, new HttpFailure(502, "Bad Gateway", "The server behind the peer closed the connection without a response."));
                }

                if (!head.IsInterim)
                {
                    return (head, null);
                }

                if (head.Status == 101)
                {
                    // Upgrade is hop-by-hop and never forwarded, so a switch of protocols was not asked for.
                    return (default, new HttpFailure(502, "Bad Gateway", "The server behind the peer switched protocols, which this proxy does not relay."));
                }

                if (request.IsHttp11)
                {
                    _head.ResetWrittenCount();
                    HttpHeadWriter.WriteResponse(head, close: false, _head);
                    await client.SendAsync(_head.WrittenMemory, SocketFlags.None, stopping).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return (default, new HttpFailure(504, "Gateway Timeout", $"The server behind the peer did not answer within {options.ResponseTimeout.TotalSeconds:0.#} s."));
        }
        catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException)
        {
            return (default, new HttpFailure(502, "Bad Gateway", "The tunnel to the peer ended before the response."));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return (default, HttpFailure.Silent);
        }
    }
}
