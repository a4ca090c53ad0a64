using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The connection <c>forward</c> carries TCP connections on, as its TCP listener's handler asks for it: the live one,
/// or, while the peer is being re-dialled, a wait for the next one (bounded by the caller's token).
/// </summary>
internal sealed class CurrentConnection
{
    private readonly Lock _lock = new();
    private TaskCompletionSource<QuicConnection> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The connection to use from now on; callers waiting get it.</summary>
    public void Set(QuicConnection connection)
    {
        lock (_lock)
        {
            if (_next.Task.IsCompleted)
            {
                _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            _next.SetResult(connection);
        }
    }

    /// <summary>The connection ended: callers wait for the next <see cref="Set"/>.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            if (_next.Task.IsCompleted)
            {
                _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public ValueTask<QuicConnection> WaitAsync(CancellationToken cancellationToken)
    {
        Task<QuicConnection> next;
        lock (_lock)
        {
            next = _next.Task;
        }

        return next.IsCompletedSuccessfully ? new(next.Result) : new(next.WaitAsync(cancellationToken));
    }
}
