using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Tun;

namespace QuicPipe.Dataplane.Hosting.Internal;

/// <summary>
/// A TUN listener of a built server: creates the device (addresses, MTU, routes), publishes it
/// (<see cref="TunTransport"/>), starts the services that live on it, then builds the pipeline from the listener's
/// stages and starts the thread that reads packets in batches and runs them through it. Stopping goes the other way:
/// services, then the reader; disposing removes the device (and with it its addresses and routes) last.
/// </summary>
internal sealed partial class TunListenerRuntime : ListenerRuntime
{
    // How often the reader looks at its stop flag when no packet arrives.
    private const int PollMilliseconds = 200;
    private static readonly TimeSpan ReaderStopTimeout = TimeSpan.FromSeconds(1);

    private readonly TunListenerBuilder _builder;
    private readonly ILoggerFactory _loggerFactory;
    private readonly DataplaneCounters _counters = new();
    private TunDevice? _device;
    private Thread? _reader;
    private volatile bool _stopping;

    public TunListenerRuntime(TunListenerBuilder builder, ListenerContext context, IReadOnlyList<IListenerService> services, ILoggerFactory loggerFactory)
        : base(context, services, loggerFactory.CreateLogger("QuicPipe.Server"))
    {
        _builder = builder;
        _loggerFactory = loggerFactory;
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _device = TunDevice.Create(_builder.Device, _loggerFactory.CreateLogger<TunDevice>());
        Context.Features.Set(new TunTransport(_device, _counters));
        try
        {
            await base.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            DisposeDevice();
            throw;
        }

        PacketDelegate pipeline;
        try
        {
            var builder = new PipelineBuilder();
            foreach (var stage in _builder.Stages)
            {
                builder.Use(stage);
            }

            var device = _device;
            pipeline = builder.Run(batch => WriteBack(device, batch)).Build();
        }
        catch
        {
            // A stage that refuses to be built (it needs a service the listener lacks): undo the whole start.
            await base.StopAsync(CancellationToken.None).ConfigureAwait(false);
            DisposeDevice();
            throw;
        }

        var batch = new PacketBatch(_builder.BatchSize, SlotSizeFor(_device.Mtu));
        _reader = new Thread(() => Read(_device, batch, pipeline))
        {
            IsBackground = true,
            Name = $"quicpipe tun {_device.Name}",
        };
        _reader.Start();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        _stopping = true;
        if (_reader is { } reader && !reader.Join(ReaderStopTimeout))
        {
            LogSlowStop(Logger, Context.ToString(), ReaderStopTimeout.TotalMilliseconds);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _stopping = true;
        await base.DisposeAsync().ConfigureAwait(false);
        _reader?.Join(ReaderStopTimeout);
        DisposeDevice();
    }

    // A packet up to the MTU, rounded up so slots stay aligned; never below the default datagram slot.
    private static int SlotSizeFor(int mtu) => Math.Max(PacketBatch.DefaultSlotSize, (mtu + 63) & ~63);

    private void Read(TunDevice device, PacketBatch batch, PacketDelegate pipeline)
    {
        var reader = new TunBatchReader(device, _counters);
        while (!_stopping)
        {
            try
            {
                if (!reader.HasPending && !device.WaitReadable(PollMilliseconds))
                {
                    continue;
                }

                batch.Clear();
                reader.Fill(batch);
                if (batch.Count == 0)
                {
                    continue;
                }

                _counters.Batches++;
                pipeline(batch);
            }
            catch (ObjectDisposedException) when (_stopping)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A bug in a stage must not stop the device: the batch is lost, the next one is read.
                LogBatchFailed(Logger, Context.ToString(), e);
            }
        }
    }

    /// <summary>The pipeline's end: what a stage answered (Forward) goes back into the device; drops are counted.</summary>
    private void WriteBack(TunDevice device, PacketBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            switch (batch.Verdicts[i])
            {
                case PacketVerdict.Forward:
                    if (device.Write(batch.Payload(i)) > 0)
                    {
                        _counters.Forwarded++;
                        _counters.ForwardedBytes += batch.Lengths[i];
                    }
                    else
                    {
                        _counters.CountDrop(DropReason.SendFailed);
                    }

                    break;
                case PacketVerdict.Drop:
                    _counters.CountDrop(batch.DropReasons[i]);
                    break;
                case PacketVerdict.Local:
                case PacketVerdict.Consumed:
                    _counters.Local++;
                    break;
                default:
                    _counters.CountDrop(DropReason.NoVerdict);
                    break;
            }
        }
    }

    private void DisposeDevice()
    {
        _device?.Dispose();
        _device = null;
    }

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "{Listener}: the reader did not stop within {Milliseconds} ms")]
    private static partial void LogSlowStop(ILogger logger, string listener, double milliseconds);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "{Listener}: a batch failed in the pipeline; it is lost")]
    private static partial void LogBatchFailed(ILogger logger, string listener, Exception exception);
}
