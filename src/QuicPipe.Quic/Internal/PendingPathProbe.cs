using QuicPipe.Dataplane;

namespace QuicPipe.Quic.Internal;

/// <summary>One <see cref="QuicConnection.ProbePathAsync"/> call: where it probes, and its first answer's round-trip time.</summary>
internal sealed class PendingPathProbe(PeerAddress destination)
{
    private readonly TaskCompletionSource<TimeSpan> _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PeerAddress Destination { get; } = destination;

    public Task<TimeSpan> Answered => _answered.Task;

    public void Answer(TimeSpan roundTrip) => _answered.TrySetResult(roundTrip);
}
