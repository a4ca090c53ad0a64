using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Diagnostics;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// One thread that owns one socket and one batch: receive a batch, run it through the pipeline
/// (which ends by transmitting on the same socket), count the verdicts, repeat. A dedicated thread,
/// not the thread pool, because recvmmsg blocks.
/// </summary>
internal sealed class ReceiveLoop
{
    private readonly PacketBatch _batch;
    private readonly PacketDelegate _pipeline;
    private readonly ILogger _logger;
    private Thread? _thread;
    private volatile bool _stopping;
    private long _lastErrorLogMs = long.MinValue;

    public ReceiveLoop(UdpBatchSocket socket, PacketBatch batch, PipelineBuilder pipeline, ILogger logger)
    {
        Socket = socket;
        _batch = batch;
        _logger = logger;
        Counters = new DataplaneCounters();
        _pipeline = pipeline.Run(new TransmitStage(socket, Counters).Invoke).Build();
    }

    public UdpBatchSocket Socket { get; }

    public DataplaneCounters Counters { get; }

    /// <summary>Whether the loop still runs (<see cref="LoopLiveness"/>); null until it starts.</summary>
    public LoopLiveness? Liveness { get; private set; }

    public void Start(string name)
    {
        Liveness = new LoopLiveness(name);
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public void RequestStop()
    {
        _stopping = true;
        Socket.Shutdown();
    }

    public bool Join(TimeSpan timeout) => _thread is null || _thread.Join(timeout);

    private void Run()
    {
        try
        {
            RunUntilStopped();
        }
        catch (Exception e) when (!_stopping)
        {
            // Out of memory (or a failure while handling a failure): this loop cannot go on. Say so where a liveness
            // check reads it and end the thread, rather than end the process with an unhandled exception.
            Liveness!.MarkDead(e);
            _logger.LogCritical(e, "Receive loop on {Address} died; the socket is no longer read", Socket.LocalAddress);
        }
    }

    private void RunUntilStopped()
    {
        while (!_stopping)
        {
            try
            {
                if (Socket.Receive(_batch, Counters) == 0)
                {
                    continue;
                }

                _pipeline(_batch);
                VerdictTally.Count(_batch, Counters);
            }
            catch (Exception e) when (!_stopping && e is not OutOfMemoryException)
            {
                // A bug in a stage must not take the relay down: the batch is lost (and counted), the loop goes on.
                VerdictTally.CountFailedBatch(_batch, Counters);
                LogRateLimited(e);
            }
        }
    }

    private void LogRateLimited(Exception e)
    {
        var now = Environment.TickCount64;
        if (now - _lastErrorLogMs >= 1000)
        {
            _lastErrorLogMs = now;
            _logger.LogError(e, "Receive loop on {Address} failed a batch; its packets were dropped", Socket.LocalAddress);
        }
    }
}
