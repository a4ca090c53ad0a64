using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// One connection's path and its migrations (RFC 9000 §9): where the connection runs now, our moves
/// (<see cref="QuicConnection.MigrateAsync(IPEndPoint, QuicMigrationMode, CancellationToken)"/>,
/// <see cref="QuicEndpoint.RebindAsync"/>), the peer's, and the <see cref="QuicConnection.PathChanged"/> events
/// they raise. Its state belongs to the endpoint's loop thread, except <see cref="RemoteEndPoint"/>, readable anywhere.
/// </summary>
internal sealed partial class ConnectionMigration(QuicConnection connection, QuicEndpoint endpoint, PeerAddress remote)
{
    /// <summary>
    /// How long a migration may wait to start: ngtcp2 needs a confirmed handshake and a spare CID of the peer's
    /// (NEW_CONNECTION_ID), both of which arrive within a round trip or two of the handshake.
    /// </summary>
    private static readonly TimeSpan MigrationStartTimeout = TimeSpan.FromSeconds(5);

    // Written on the loop thread, read anywhere: an immutable snapshot of RemoteAddress.
    private volatile IPEndPoint _remoteEndPoint = remote.ToEndPoint();

    // Loop thread only: our address on the current path as ngtcp2 knows it.
    private PeerAddress _localPathAddress;

    // Loop thread only: the one migration of ours in progress.
    private PendingMigration? _pendingMigration;

    // Loop thread only: a path that just failed validation; if the connection leaves it next, that is the fallback.
    private (PeerAddress Local, PeerAddress Remote)? _failedPath;

    /// <summary>What <see cref="QuicConnection.PathChanged"/> subscribes to; raised with the connection as sender.</summary>
    public event EventHandler<QuicPathChangedEventArgs>? PathChanged;

    /// <summary>The peer's address on the current path (loop thread); <see cref="RemoteEndPoint"/> is its snapshot.</summary>
    public PeerAddress RemoteAddress { get; private set; } = remote;

    /// <summary>The peer's address on the current path, readable from any thread.</summary>
    public IPEndPoint RemoteEndPoint => _remoteEndPoint;

    /// <summary>What <see cref="QuicConnection.MigrateAsync(IPEndPoint, QuicMigrationMode, CancellationToken)"/> does; see there.</summary>
    public Task MigrateAsync(IPEndPoint newRemote, QuicMigrationMode mode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(newRemote);
        if (!Enum.IsDefined(mode))
        {
            return Task.FromException(new ArgumentOutOfRangeException(nameof(mode), mode, "Not a QuicMigrationMode."));
        }

        if (connection.IsServer)
        {
            return Task.FromException(new InvalidOperationException("Only the client side can migrate a connection (RFC 9000 §9); the server follows its client."));
        }

        var migration = new PendingMigration(local: null, PeerAddress.FromEndPoint(newRemote), validate: mode == QuicMigrationMode.ValidateFirst);
        endpoint.Post(() => Begin(migration));
        RegisterCancellation(migration, cancellationToken);
        return migration.Completion.Task;
    }

    /// <summary>Moves the connection to a new local address at once, validating after (loop thread; see QuicEndpoint.RebindAsync).</summary>
    public Task MoveToLocalAddress(PeerAddress local, CancellationToken cancellationToken)
    {
        endpoint.AssertOnLoopThread();
        var migration = new PendingMigration(local, RemoteAddress, validate: false);
        Begin(migration);
        RegisterCancellation(migration, cancellationToken);
        return migration.Completion.Task;
    }

    /// <summary>Loop thread, once the connection has its native side: reads our address on the first path.</summary>
    public unsafe void InitializePath()
    {
        endpoint.AssertOnLoopThread();
        PeerAddress local, remote;
        if (QuicShim.ConnGetPath(connection.Handle, (byte*)&local, (byte*)&remote) == 0)
        {
            _localPathAddress = local;
        }
    }

    /// <summary>
    /// Loop thread, after a received packet: starts a migration that was waiting for a spare CID of the peer's or for
    /// the handshake's confirmation, which that packet may have brought.
    /// </summary>
    public void RetryStart()
    {
        endpoint.AssertOnLoopThread();
        if (_pendingMigration is { Started: false } migration)
        {
            TryStart(migration);
        }
    }

    /// <summary>Loop thread, as the connection ends: fails the migration in progress, if any.</summary>
    public void FailPending(Exception error)
    {
        endpoint.AssertOnLoopThread();
        var migration = _pendingMigration;
        _pendingMigration = null;
        migration?.Fail(error);
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
            connection.Post(() =>
            {
                endpoint.AssertOnLoopThread();
                if (_pendingMigration == migration && !migration.Started)
                {
                    _pendingMigration = null;
                    migration.Dispose();
                }
            });
        });
    }

    private void Begin(PendingMigration migration)
    {
        endpoint.AssertOnLoopThread();
        if (connection.IsTerminated)
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
        TryStart(migration);
        if (_pendingMigration == migration && !migration.Started)
        {
            migration.StartTimer = new Timer(_ => connection.Post(() => ExpireStart(migration)), null, MigrationStartTimeout, Timeout.InfiniteTimeSpan);
        }
    }

    private unsafe void TryStart(PendingMigration migration)
    {
        var now = MonotonicClock.NowNanoseconds();
        var local = migration.Local;
        var remote = migration.Remote;
        // Started before the call: an immediate migration switches inside it, and OnPathChanged must know it as ours.
        migration.Started = true;
        var rv = QuicShim.ConnMigrate(connection.Handle, (byte*)&local, (uint)local.SockaddrLength, (byte*)&remote, (uint)remote.SockaddrLength, migration.Validate ? 1 : 0, now);
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
        migration.Fail(StartFailure(migration));
    }

    private void ExpireStart(PendingMigration migration)
    {
        endpoint.AssertOnLoopThread();
        if (_pendingMigration == migration && !migration.Started && !connection.IsTerminated)
        {
            _pendingMigration = null;
            migration.Fail(StartFailure(migration));
        }
    }

    private static QuicConnectionException StartFailure(PendingMigration migration)
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

    // ---- callbacks (loop thread, inside a shim call) ----

    public void OnPathValidation(bool succeeded, PeerAddress local, PeerAddress remote)
    {
        endpoint.AssertOnLoopThread();
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

    public void OnPathChanged(PeerAddress local, PeerAddress remote)
    {
        endpoint.AssertOnLoopThread();
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
            handler(connection, new QuicPathChangedEventArgs(oldLocal.ToEndPoint(), oldRemote.ToEndPoint(), newLocal.ToEndPoint(), newRemote.ToEndPoint(), reason));
        }
        catch (Exception e)
        {
            // A handler's bug must not fail the connection it observes (this runs inside an ngtcp2 callback).
            LogPathChangedHandlerFailed(endpoint.Logger, RemoteEndPoint, e);
        }
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "QUIC connection {Remote}: a PathChanged handler threw")]
    private static partial void LogPathChangedHandlerFailed(ILogger logger, IPEndPoint remote, Exception exception);
}
