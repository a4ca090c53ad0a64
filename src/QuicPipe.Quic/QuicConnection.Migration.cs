using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Internal;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic;

/// <summary>Connection migration (RFC 9000 §9): our moves, the peer's, and the path events both raise.</summary>
public sealed partial class QuicConnection
{
    /// <summary>
    /// How long a migration may wait to start: ngtcp2 needs a confirmed handshake and a spare CID of the peer's
    /// (NEW_CONNECTION_ID), both of which arrive within a round trip or two of the handshake.
    /// </summary>
    private static readonly TimeSpan MigrationStartTimeout = TimeSpan.FromSeconds(5);

    // Written on the loop thread, read anywhere: an immutable snapshot of RemoteAddress.
    private volatile IPEndPoint _remoteEndPoint;

    // Loop thread only: our address on the current path as ngtcp2 knows it.
    private PeerAddress _localPathAddress;

    // Loop thread only: the one migration of ours in progress.
    private PendingMigration? _pendingMigration;

    // Loop thread only: a path that just failed validation; if the connection leaves it next, that is the fallback.
    private (PeerAddress Local, PeerAddress Remote)? _failedPath;

    /// <summary>
    /// The connection moved to another path, or a new path failed validation (see <see cref="QuicPathChangeReason"/>).
    /// Raised on the endpoint's loop thread, inside the engine: keep handlers short and do not block; an exception
    /// thrown by a handler is written to stderr and otherwise ignored.
    /// </summary>
    public event EventHandler<QuicPathChangedEventArgs>? PathChanged;

    /// <summary>
    /// Client side: moves the connection to <paramref name="newRemote"/> over the same local socket (e.g. from a
    /// relay to the peer's direct address), keeping its streams. Sends PATH_CHALLENGE to the new address with a
    /// fresh CID of the peer's and switches when the PATH_RESPONSE arrives; until then, and if validation fails,
    /// traffic stays on the current path. Completes once switched (after <see cref="PathChanged"/> with
    /// <see cref="QuicPathChangeReason.Migrated"/>). RTT and congestion state restart on the new path, so
    /// <see cref="GetStatsAsync"/> reports the current path's.
    /// </summary>
    /// <remarks>
    /// Cancelling stops the wait, not a validation already sent: if it later succeeds, the connection switches and
    /// <see cref="PathChanged"/> reports it.
    /// </remarks>
    /// <exception cref="InvalidOperationException">This is the server side, or a migration is already in progress.</exception>
    /// <exception cref="ArgumentException">The address family differs from the endpoint's socket.</exception>
    /// <exception cref="QuicConnectionException">
    /// Validation failed (nobody answered at <paramref name="newRemote"/> in time: the connection stays on its old path),
    /// the migration could not start (no spare CID from the peer, handshake not confirmed, the peer disabled active
    /// migration), or the connection ended.
    /// </exception>
    public Task MigrateAsync(IPEndPoint newRemote, CancellationToken cancellationToken = default) =>
        MigrateAsync(newRemote, QuicMigrationMode.ValidateFirst, cancellationToken);

    /// <summary>
    /// Client side: moves the connection to <paramref name="newRemote"/> over the same local socket, validating the
    /// new path first or switching at once (<paramref name="mode"/>). With <see cref="QuicMigrationMode.Immediate"/>
    /// the traffic moves before this call returns its task, and the task completes (after <see cref="PathChanged"/>
    /// with <see cref="QuicPathChangeReason.Migrated"/>) once the peer answered on the new path, or fails if it did
    /// not; the connection stays on the new path either way.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is the server side, or a migration is already in progress.</exception>
    /// <exception cref="ArgumentException">The address family differs from the endpoint's socket.</exception>
    /// <exception cref="QuicConnectionException">Validation failed, the migration could not start, or the connection ended.</exception>
    public Task MigrateAsync(IPEndPoint newRemote, QuicMigrationMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newRemote);
        if (!Enum.IsDefined(mode))
        {
            return Task.FromException(new ArgumentOutOfRangeException(nameof(mode), mode, "Not a QuicMigrationMode."));
        }

        if (IsServer)
        {
            return Task.FromException(new InvalidOperationException("Only the client side can migrate a connection (RFC 9000 §9); the server follows its client."));
        }

        var migration = new PendingMigration(local: null, PeerAddress.FromEndPoint(newRemote), validate: mode == QuicMigrationMode.ValidateFirst);
        _endpoint.Post(() => BeginMigration(migration));
        RegisterCancellation(migration, cancellationToken);
        return migration.Completion.Task;
    }

    /// <summary>Moves the connection to a new local address at once, validating after (loop thread; see QuicEndpoint.RebindAsync).</summary>
    internal Task MoveToLocalAddress(PeerAddress local, CancellationToken cancellationToken)
    {
        var migration = new PendingMigration(local, RemoteAddress, validate: false);
        BeginMigration(migration);
        RegisterCancellation(migration, cancellationToken);
        return migration.Completion.Task;
    }

    private void RegisterCancellation(PendingMigration migration, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return;
        }

        migration.Cancellation = cancellationToken.Register(() =>
        {
            migration.Completion.TrySetCanceled(cancellationToken);

            // Not started yet: forget it. Started: ngtcp2 validates on, and the outcome is still reported.
            Post(() =>
            {
                if (_pendingMigration == migration && !migration.Started)
                {
                    _pendingMigration = null;
                    migration.Dispose();
                }
            });
        });
    }

    private void BeginMigration(PendingMigration migration)
    {
        if (IsTerminated)
        {
            migration.Fail(new QuicConnectionException("The connection has ended."));
            return;
        }

        if (_pendingMigration is { } other)
        {
            migration.Fail(new InvalidOperationException($"A migration to {other.Remote} is in progress; wait for it to end."));
            return;
        }

        migration.Local = migration.RequestedLocal ?? _localPathAddress;
        if (migration.Local.RawFamily != migration.Remote.RawFamily)
        {
            migration.Fail(new ArgumentException($"Cannot migrate to {migration.Remote}: the local socket is {migration.Local}, another address family."));
            return;
        }

        if (migration.Local == _localPathAddress && migration.Remote == RemoteAddress)
        {
            migration.Complete();
            return;
        }

        _pendingMigration = migration;
        migration.StartDeadline = MonotonicClock.NowNanoseconds() + (ulong)MigrationStartTimeout.Ticks * 100;
        TryStartMigration(migration);
        if (_pendingMigration == migration && !migration.Started)
        {
            migration.StartTimer = new Timer(_ => Post(() => ExpireMigrationStart(migration)), null, MigrationStartTimeout, Timeout.InfiniteTimeSpan);
        }
    }

    private unsafe void TryStartMigration(PendingMigration migration)
    {
        var now = MonotonicClock.NowNanoseconds();
        var local = migration.Local;
        var remote = migration.Remote;
        // Started before the call: an immediate migration switches inside it, and OnPathChanged must know it as ours.
        migration.Started = true;
        var rv = QuicShim.ConnMigrate(Handle, (byte*)&local, (uint)local.SockaddrLength, (byte*)&remote, (uint)remote.SockaddrLength, migration.Validate ? 1 : 0, now);
        if (rv == 0)
        {
            migration.StartTimer?.Dispose();
            migration.StartTimer = null;
            return;
        }

        migration.Started = false;
        migration.LastStartError = rv;
        if (rv is QuicShim.ErrorConnectionIdBlocked or QuicShim.ErrorInvalidState && now < migration.StartDeadline)
        {
            return; // retried after the next packet from the peer, which may bring the CID or HANDSHAKE_DONE
        }

        _pendingMigration = null;
        migration.Fail(MigrationStartFailure(migration));
    }

    private void ExpireMigrationStart(PendingMigration migration)
    {
        if (_pendingMigration == migration && !migration.Started && !IsTerminated)
        {
            _pendingMigration = null;
            migration.Fail(MigrationStartFailure(migration));
        }
    }

    private static QuicConnectionException MigrationStartFailure(PendingMigration migration)
    {
        var error = migration.LastStartError;
        var why = error switch
        {
            QuicShim.ErrorConnectionIdBlocked => $"the peer issued no spare connection ID (NEW_CONNECTION_ID) within {MigrationStartTimeout.TotalSeconds:0} s",
            QuicShim.ErrorInvalidState => "the handshake is not confirmed, or the peer disabled active migration (its disable_active_migration transport parameter)",
            QuicShim.ErrorInvalidArgument => "ngtcp2 refused the new path (invalid argument)",
            _ => QuicShim.Describe(error),
        };
        return new QuicConnectionException($"Cannot migrate to {migration.Remote}: {why}.") { NativeError = error };
    }

    private void FailPendingMigration(Exception error)
    {
        var migration = _pendingMigration;
        _pendingMigration = null;
        migration?.Fail(error);
    }

    private unsafe void InitializePath()
    {
        PeerAddress local, remote;
        if (QuicShim.ConnGetPath(Handle, (byte*)&local, (byte*)&remote) == 0)
        {
            _localPathAddress = local;
        }
    }

    // ---- callbacks (loop thread, inside a shim call) ----

    internal void OnPathValidation(bool succeeded, PeerAddress local, PeerAddress remote)
    {
        var migration = _pendingMigration;
        var ours = migration is not null && migration.Matches(local, remote);
        if (succeeded)
        {
            if (ours)
            {
                migration!.Validated = true;
                if (local == _localPathAddress && remote == RemoteAddress)
                {
                    // Already on the path (an immediate migration): the switch is now confirmed.
                    var from = migration.SwitchedFrom ?? (local, remote);
                    RaisePathChanged(from.Local, from.Remote, local, remote, QuicPathChangeReason.Migrated);
                    _pendingMigration = null;
                    migration.Complete();
                }
            }

            return;
        }

        if (ours && migration!.Validate)
        {
            // Our validating migration never left the current path: nothing switches back, so report it here.
            _pendingMigration = null;
            RaisePathChanged(_localPathAddress, RemoteAddress, local, remote, QuicPathChangeReason.ValidationFailed);
            migration.Fail(new QuicConnectionException($"Path validation of {remote.ToEndPoint()} failed: no PATH_RESPONSE arrived in time; the connection stays on {RemoteEndPoint}."));
            return;
        }

        if (ours)
        {
            // Our immediate migration: ngtcp2 keeps a client on the path it moved to (there is no fallback), so the
            // move did happen; report it, then fail the task.
            _pendingMigration = null;
            if (migration!.SwitchedFrom is { } from && local == _localPathAddress && remote == RemoteAddress)
            {
                RaisePathChanged(from.Local, from.Remote, local, remote, QuicPathChangeReason.Migrated);
            }

            migration.Fail(new QuicConnectionException($"Path validation of {local.ToEndPoint()} -> {remote.ToEndPoint()} failed: no PATH_RESPONSE arrived in time; the connection stays on it."));
            return;
        }

        // The connection is on the failed path (a server that followed its peer): ngtcp2 goes back to the previous
        // one when this call returns, and OnPathChanged reports that fallback. A failed check of some other path
        // (ngtcp2 also probes the path a server left) changes nothing and is not reported.
        if (local == _localPathAddress && remote == RemoteAddress)
        {
            _failedPath = (local, remote);
        }
    }

    internal void OnPathChanged(PeerAddress local, PeerAddress remote)
    {
        var oldLocal = _localPathAddress;
        var oldRemote = RemoteAddress;
        _localPathAddress = local;
        RemoteAddress = remote;
        _remoteEndPoint = remote.ToEndPoint();
        var failed = _failedPath;
        _failedPath = null;
        var migration = _pendingMigration;
        if (failed is { } f && f.Local == oldLocal && f.Remote == oldRemote)
        {
            RaisePathChanged(oldLocal, oldRemote, local, remote, QuicPathChangeReason.ValidationFailed);
        }
        else if (migration is not null && migration.Matches(local, remote))
        {
            if (!migration.Validated)
            {
                // An immediate migration: reported as Migrated once the peer answered on the new path.
                migration.SwitchedFrom = (oldLocal, oldRemote);
                return;
            }

            RaisePathChanged(oldLocal, oldRemote, local, remote, QuicPathChangeReason.Migrated);
            _pendingMigration = null;
            migration.Complete();
        }
        else
        {
            RaisePathChanged(oldLocal, oldRemote, local, remote, QuicPathChangeReason.PeerMigrated);
        }
    }

    private void RaisePathChanged(PeerAddress oldLocal, PeerAddress oldRemote, PeerAddress newLocal, PeerAddress newRemote, QuicPathChangeReason reason)
    {
        var handler = PathChanged;
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, new QuicPathChangedEventArgs(oldLocal.ToEndPoint(), oldRemote.ToEndPoint(), newLocal.ToEndPoint(), newRemote.ToEndPoint(), reason));
        }
        catch (Exception e)
        {
            // A handler's bug must not fail the connection it observes (this runs inside an ngtcp2 callback).
            LogPathChangedHandlerFailed(_endpoint.Logger, RemoteEndPoint, e);
        }
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "QUIC connection {Remote}: a PathChanged handler threw")]
    private static partial void LogPathChangedHandlerFailed(ILogger logger, IPEndPoint remote, Exception exception);
}
