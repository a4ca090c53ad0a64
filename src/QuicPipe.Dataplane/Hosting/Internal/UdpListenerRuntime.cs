using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Dataplane.Hosting.Internal;

/// <summary>
/// A UDP listener of a built server: binds a <see cref="UdpListener"/> per address and publishes them
/// (<see cref="UdpTransport"/>), starts the services that live on them, then builds each loop's pipeline from the
/// listener's stages and starts the loops (or hands each socket and its pipeline to the listener's
/// <see cref="IUdpLoopOwner"/>). Stopping goes the other way: services, then loops; disposing closes the sockets last.
/// </summary>
internal sealed partial class UdpListenerRuntime : ListenerRuntime
{
    // How long stopping waits for a receive loop before it reports a slow stop and goes on.
    private static readonly TimeSpan LoopStopTimeout = TimeSpan.FromSeconds(1);

    private readonly UdpListenerBuilder _builder;
    private readonly ILoggerFactory _loggerFactory;
    private readonly List<UdpListener> _listeners = [];
    private UdpTransport? _transport;

    public UdpListenerRuntime(UdpListenerBuilder builder, ListenerContext context, IReadOnlyList<IListenerService> services, ILoggerFactory loggerFactory)
        : base(context, services, loggerFactory.CreateLogger("QuicPipe.Server"))
    {
        _builder = builder;
        _loggerFactory = loggerFactory;
    }

    /// <summary>Whether a socket bound to <paramref name="bound"/> holds the port <paramref name="wanted"/> asks for.</summary>
    private static bool Overlap(IPEndPoint bound, IPEndPoint wanted) =>
        bound.AddressFamily == wanted.AddressFamily && bound.Port == wanted.Port
        && (bound.Address.Equals(wanted.Address) || IsAny(bound.Address) || IsAny(wanted.Address));

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var endpoint in Context.Endpoints)
            {
                var listener = new UdpListener(_builder.OptionsFor(endpoint), _loggerFactory.CreateLogger<UdpListener>());
                _listeners.Add(listener);
                try
                {
                    listener.Bind();
                }
                catch (UdpSocketException e) when (e.AddressInUse && _listeners.FirstOrDefault(l => l.IsBound && Overlap(l.LocalAddress.ToEndPoint(), endpoint)) is { } ours)
                {
                    // Not another process: two of our own addresses cover the same port (0.0.0.0:4433 and 127.0.0.1:4433).
                    throw new UdpSocketException($"UDP {endpoint} overlaps UDP {ours.LocalAddress}, which this server listens on too: give one of them", e);
                }
            }
        }
        catch
        {
            DisposeListeners();
            throw;
        }

        _transport = new UdpTransport(_listeners);
        Context.Features.Set(_transport);
        try
        {
            await base.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            DisposeListeners();
            throw;
        }

        var owner = Services.OfType<IUdpLoopOwner>().FirstOrDefault();
        try
        {
            for (var i = 0; i < _listeners.Count; i++)
            {
                var addressIndex = i;
                var listener = _listeners[i];
                if (owner is not null)
                {
                    listener.RunOn((socket, loop) =>
                    {
                        var context = new UdpLoopContext(Context, addressIndex, listener.LocalAddress, loop);
                        owner.Run(context, socket, terminal => Compose(new PipelineBuilder().Run(terminal), context).Build());
                    });
                }
                else
                {
                    listener.Start((pipeline, loop) => Compose(pipeline, new UdpLoopContext(Context, addressIndex, listener.LocalAddress, loop)));
                }
            }
        }
        catch
        {
            // A stage that refuses to be built (it needs a service the listener lacks): undo the whole start.
            await base.StopAsync(CancellationToken.None).ConfigureAwait(false);
            DisposeListeners();
            throw;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        var stopped = true;
        foreach (var listener in _listeners)
        {
            stopped &= listener.Stop(LoopStopTimeout);
        }

        if (!stopped)
        {
            LogSlowStop(Logger, Context.ToString(), LoopStopTimeout.TotalMilliseconds);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        DisposeListeners();
    }

    private PipelineBuilder Compose(PipelineBuilder pipeline, UdpLoopContext loop)
    {
        foreach (var stage in _builder.Stages)
        {
            pipeline.Use(next => stage(loop, next));
        }

        return pipeline;
    }

    private void DisposeListeners()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        _listeners.Clear();
        _transport?.Clear();
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Listener}: a receive loop did not stop within {Milliseconds} ms")]
    private static partial void LogSlowStop(ILogger logger, string listener, double milliseconds);
}
