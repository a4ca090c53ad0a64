using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting.Internal;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// A built dataplane: the listeners from <see cref="QuicPipeServerBuilder"/> with their stages, handlers and
/// services, run inside a generic host. Start binds every listener in the order it was added (its sockets, then the
/// services that live on them, then its receive loops), then starts the host's services; stop and dispose go in
/// reverse. Start either succeeds whole or throws the failing part's exception with everything stopped and
/// disposed, so a failed start leaves nothing bound. A server starts once.
/// </summary>
public sealed partial class QuicPipeServer : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly ListenerRuntime[] _listeners;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ServerState _state;

    // Set when a failed start has already disposed every listener, so disposing the server does not do it twice.
    private bool _listenersDisposed;

    private QuicPipeServer(IHost host, ListenerRuntime[] listeners, ILogger logger)
    {
        _host = host;
        _listeners = listeners;
        _logger = logger;
    }

    private enum ServerState
    {
        Built,
        Started,
        Stopped,
        Disposed,
    }

    /// <summary>
    /// The server over <paramref name="host"/> with a listener for each of <paramref name="builders"/>, their services
    /// created. If creating them fails, the host is disposed too: a failed Build leaves nothing behind.
    /// </summary>
    internal static QuicPipeServer Create(IHost host, IReadOnlyList<ListenerBuilder> builders)
    {
        var loggerFactory = host.Services.GetRequiredService<ILoggerFactory>();
        var logger = loggerFactory.CreateLogger("QuicPipe.Server");
        ListenerRuntime[] listeners;
        try
        {
            listeners = new ListenerRuntimeFactory(host.Services, loggerFactory, logger).CreateAll(builders);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new QuicPipeServer(host, listeners, logger);
    }

    /// <summary>A builder over the generic host's defaults (configuration from <paramref name="args"/>, appsettings and environment; console logging).</summary>
    public static QuicPipeServerBuilder CreateBuilder(string[]? args = null) => new(Host.CreateApplicationBuilder(args ?? []));

    /// <summary>A builder over a host made with <paramref name="settings"/> (e.g. <c>DisableDefaults</c> for a command that configures its own logging).</summary>
    public static QuicPipeServerBuilder CreateBuilder(HostApplicationBuilderSettings settings) => new(Host.CreateApplicationBuilder(settings));

    public IServiceProvider Services => _host.Services;

    /// <summary>The listeners in the order they were added; their features hold their transports and what their services made.</summary>
    public IReadOnlyList<ListenerContext> Listeners => _listeners.Select(l => l.Context).ToArray();

    /// <summary>Starts every listener, in the order added, then the host's services.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => StartCoreAsync(alreadyStartedIsFine: false, cancellationToken);

    private async Task StartCoreAsync(bool alreadyStartedIsFine, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_state == ServerState.Started && alreadyStartedIsFine)
            {
                return;
            }

            if (_state != ServerState.Built)
            {
                throw new InvalidOperationException($"The server cannot start: it is {_state.ToString().ToLowerInvariant()} (a server starts once).");
            }

            var started = new List<ListenerRuntime>();
            try
            {
                foreach (var listener in _listeners)
                {
                    // A listener that fails to start has already undone its own start.
                    await listener.StartAsync(cancellationToken).ConfigureAwait(false);
                    started.Add(listener);
                }

                await _host.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The host may have started some of its services before one threw: stop those too.
                await StopQuietlyAsync(_host.StopAsync, CancellationToken.None).ConfigureAwait(false);
                started.Reverse();
                foreach (var listener in started)
                {
                    await StopQuietlyAsync(listener.StopAsync, CancellationToken.None).ConfigureAwait(false);
                }

                // Every listener, not only those started: the one that threw may hold services it created at Build.
                await DisposeListenersAsync().ConfigureAwait(false);
                _state = ServerState.Stopped;
                throw;
            }

            _state = ServerState.Started;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the host's services, then every listener, last started first. A second call does nothing.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_state != ServerState.Started)
            {
                return;
            }

            _state = ServerState.Stopped;
            await StopQuietlyAsync(_host.StopAsync, cancellationToken).ConfigureAwait(false);
            for (var i = _listeners.Length - 1; i >= 0; i--)
            {
                await StopQuietlyAsync(_listeners[i].StopAsync, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Starts (unless <see cref="StartAsync"/> already did: a caller may start first to report a
    /// failed start its own way), runs until <paramref name="cancellationToken"/> fires or the host is told to stop
    /// (Ctrl+C, SIGTERM), then stops. Disposing stays the caller's (<c>await using</c>).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await StartCoreAsync(alreadyStartedIsFine: true, cancellationToken).ConfigureAwait(false);
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lifetime = _host.Services.GetRequiredService<IHostApplicationLifetime>();
        using (lifetime.ApplicationStopping.Register(() => stopping.TrySetResult()))
        using (cancellationToken.Register(() => stopping.TrySetResult()))
        {
            await stopping.Task.ConfigureAwait(false);
        }

        await StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Stops if running, then disposes every listener (last first) and the host.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_state == ServerState.Disposed)
            {
                return;
            }

            _state = ServerState.Disposed;
            await DisposeListenersAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        // Outside the gate: the host's container holds this server (Build registers it) and disposes it, which
        // calls back here and must find it disposed rather than wait for the gate forever.
        _host.Dispose();
    }

    private async Task DisposeListenersAsync()
    {
        if (_listenersDisposed)
        {
            return;
        }

        _listenersDisposed = true;
        for (var i = _listeners.Length - 1; i >= 0; i--)
        {
            await _listeners[i].DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs one stop step; a failure is logged, not thrown, so the steps after it still run.</summary>
    private async Task StopQuietlyAsync(Func<CancellationToken, Task> stop, CancellationToken cancellationToken)
    {
        try
        {
            await stop(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogStopFailed(_logger, stop.Target?.GetType().Name ?? "?", e);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "{Part} did not stop cleanly")]
    private static partial void LogStopFailed(ILogger logger, string part, Exception exception);
}
