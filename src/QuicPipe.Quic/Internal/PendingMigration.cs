using QuicPipe.Dataplane;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// One migration of a client connection to a new path (loop thread only, except <see cref="Completion"/>):
/// requested, then started in ngtcp2 once it has a spare peer CID, then validated and switched.
/// </summary>
internal sealed class PendingMigration : IDisposable
{
    public PendingMigration(PeerAddress? local, PeerAddress remote, bool validate)
    {
        RequestedLocal = local;
        Remote = remote;
        Validate = validate;
    }

    /// <summary>The new local address, or null to keep the current one (a new remote over the same socket).</summary>
    public PeerAddress? RequestedLocal { get; }

    /// <summary>The local address of the new path, fixed when the migration is begun.</summary>
    public PeerAddress Local { get; set; }

    public PeerAddress Remote { get; }

    /// <summary>True: switch only after validation. False: switch at once, validate after (the old socket is gone).</summary>
    public bool Validate { get; }

    /// <summary>ngtcp2 accepted the migration (it had a spare CID and a confirmed handshake).</summary>
    public bool Started { get; set; }

    /// <summary>The peer answered our PATH_CHALLENGE on the new path.</summary>
    public bool Validated { get; set; }

    /// <summary>The path before an immediate migration, reported once its validation succeeded.</summary>
    public (PeerAddress Local, PeerAddress Remote)? SwitchedFrom { get; set; }

    /// <summary>Until when (loop clock, ns) a start refused for lack of a spare CID or confirmation is retried.</summary>
    public ulong StartDeadline { get; set; }

    /// <summary>Why the last start attempt was refused, for the error if the deadline passes.</summary>
    public int LastStartError { get; set; }

    /// <summary>Fires at <see cref="StartDeadline"/> so a migration that cannot start fails even on a silent connection.</summary>
    public Timer? StartTimer { get; set; }

    public CancellationTokenRegistration Cancellation { get; set; }

    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Matches(in PeerAddress local, in PeerAddress remote) => Started && Local == local && Remote == remote;

    public void Complete()
    {
        Completion.TrySetResult();
        Dispose();
    }

    public void Fail(Exception error)
    {
        Completion.TrySetException(error);
        Dispose();
    }

    public void Dispose()
    {
        StartTimer?.Dispose();
        StartTimer = null;
        Cancellation.Dispose();
    }
}
