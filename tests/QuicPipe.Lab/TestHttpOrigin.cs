using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace QuicPipe.Lab;

/// <summary>One request as the origin received it: what a proxy in front of it changed shows here.</summary>
public sealed record OriginRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string ConnectionId, long BodyBytes);

/// <summary>
/// A real HTTP/1.1 server (Kestrel) on 127.0.0.1 to stand behind a peer in the HTTP proxy tests: it frames, keeps
/// connections alive and answers <c>Expect: 100-continue</c> as servers do, and records every request it gets.
/// <c>GET /page</c>: a small HTML page (<see cref="PageMarker"/>); <c>/echo</c> (any method): the request body back,
/// with Content-Length; <c>GET /stream?kib=N</c>: N KiB written 1 KiB at a time with flushes, so chunked.
/// </summary>
public sealed class TestHttpOrigin : IAsyncDisposable
{
    /// <summary>The text of the page's one paragraph (id <c>peer-page</c>).</summary>
    public const string PageMarker = "served by the peer behind quicpipe";

    public const string Page = "<!DOCTYPE html><html><head><title>peer</title></head><body><p id=\"peer-page\">" + PageMarker + "</p></body></html>";

    private readonly WebApplication _app;

    private TestHttpOrigin(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Every request in the order it arrived.</summary>
    public ConcurrentQueue<OriginRequest> Requests { get; } = new();

    /// <summary>The byte at <paramref name="index"/> of a <c>/stream</c> body: a pattern that shows a byte lost or moved.</summary>
    public static byte StreamByte(long index) => (byte)(index % 251);

    public static async Task<TestHttpOrigin> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        TestHttpOrigin? origin = null;
        app.Run(async context =>
        {
            var request = context.Request;
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, context.RequestAborted);
            var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            origin!.Requests.Enqueue(new OriginRequest(request.Method, request.Path + request.QueryString, headers, context.Connection.Id, body.Length));
            await RespondAsync(context, body.ToArray());
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        origin = new TestHttpOrigin(app, new Uri(address).Port);
        return origin;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task RespondAsync(HttpContext context, byte[] requestBody)
    {
        var response = context.Response;
        switch (context.Request.Path.Value)
        {
            case "/page":
                response.ContentType = "text/html; charset=utf-8";
                await response.WriteAsync(Page, context.RequestAborted);
                break;
            case "/echo":
                response.ContentType = "application/octet-stream";
                response.ContentLength = requestBody.Length;
                await response.Body.WriteAsync(requestBody, context.RequestAborted);
                break;
            case "/stream":
                var kib = int.Parse(context.Request.Query["kib"].ToString(), CultureInfo.InvariantCulture);
                var block = new byte[1024];
                for (var i = 0; i < kib; i++)
                {
                    for (var j = 0; j < block.Length; j++)
                    {
                        block[j] = StreamByte(((long)i * block.Length) + j);
                    }

                    await response.Body.WriteAsync(block, context.RequestAborted);
                    await response.Body.FlushAsync(context.RequestAborted);
                }

                break;
            default:
                response.StatusCode = 404;
                break;
        }
    }
}
