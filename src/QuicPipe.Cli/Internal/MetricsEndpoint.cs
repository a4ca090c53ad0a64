using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The HTTP side of <c>--metrics</c>: Kestrel on one address serving <c>/metrics</c> (the Prometheus text format of every
/// <c>QuicPipe.*</c> meter and the runtime's <c>System.Runtime</c> meter, through OpenTelemetry's Prometheus exporter)
/// and <c>/healthz</c> (200 while every loop of <see cref="LivenessChecks"/> runs, 503 naming the dead ones). It reads
/// the same meters <c>dotnet-counters monitor</c> does; nothing of the dataplane knows it exists.
/// </summary>
internal sealed class MetricsEndpoint : IAsyncDisposable
{
    /// <summary>The meters exported: ours by their common prefix, and the runtime's (GC, threads, memory).</summary>
    public static readonly string[] Meters = ["QuicPipe.*", "System.Runtime"];

    private readonly WebApplication _app;

    private MetricsEndpoint(WebApplication app, IPEndPoint address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The bound address.</summary>
    public IPEndPoint Address { get; }

    /// <summary>
    /// Binds <paramref name="address"/> and starts serving. Throws <see cref="MetricsEndpointException"/> with one line
    /// for the operator when the address cannot be bound (in use, not local, not permitted).
    /// </summary>
    public static async Task<MetricsEndpoint> StartAsync(IPEndPoint address, string command, LivenessChecks liveness, CancellationToken cancellationToken)
    {
        // The empty builder: no configuration files, environment-driven URLs or logging of its own. The command's
        // stderr carries its own lines only, and the one address given is the only one bound.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(address));
        builder.Services.AddRoutingCore();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("quicpipe-" + command))
            .WithMetrics(metrics => metrics.AddMeter(Meters).AddPrometheusExporter());
        var app = builder.Build();
        app.UseRouting();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/healthz", context => AnswerHealth(context, liveness));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);

            // Kestrel wraps the socket's refusal in its own IOException; say what the operator can act on.
            var reason = e.InnerException is AddressInUseException ? "the port is in use" : (e.InnerException ?? e).Message;
            throw new MetricsEndpointException($"--metrics {address}: {reason}", e);
        }

        return new MetricsEndpoint(app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static Task AnswerHealth(HttpContext context, LivenessChecks liveness)
    {
        var dead = liveness.DeadLoops();
        context.Response.ContentType = "text/plain; charset=utf-8";
        if (dead.Count == 0)
        {
            return context.Response.WriteAsync("ok\n");
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        return context.Response.WriteAsync(string.Join('\n', dead) + "\n");
    }
}

/// <summary>The metrics endpoint could not be started; the message is one line for the operator.</summary>
internal sealed class MetricsEndpointException(string message, Exception inner) : Exception(message, inner);
