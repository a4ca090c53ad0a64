namespace QuicPipe.Quic;

/// <summary>Why <see cref="QuicConnection.PathChanged"/> was raised.</summary>
public enum QuicPathChangeReason
{
    /// <summary>
    /// We moved the connection (<see cref="QuicConnection.MigrateAsync(System.Net.IPEndPoint, CancellationToken)"/> or <see cref="QuicEndpoint.RebindAsync"/>)
    /// and the peer answered PATH_CHALLENGE on the new path. An <see cref="QuicMigrationMode.Immediate"/> move is
    /// reported when its validation ends, whatever the outcome: the connection is on the new path either way.
    /// </summary>
    Migrated,

    /// <summary>
    /// The peer's address changed: it migrated, or a NAT rebound it. A server follows at once (RFC 9000 §9.3) and
    /// validates the new path afterwards; if that fails, a <see cref="ValidationFailed"/> change takes it back.
    /// </summary>
    PeerMigrated,

    /// <summary>
    /// A path failed validation (no PATH_RESPONSE in time). For our own migration the connection never left the old
    /// path (<see cref="QuicPathChangedEventArgs.NewRemoteEndPoint"/> is the path that failed and
    /// <see cref="QuicConnection.RemoteEndPoint"/> is unchanged); for a peer's move the connection went back to the
    /// path it had before (<see cref="QuicPathChangedEventArgs.NewRemoteEndPoint"/> is the restored one).
    /// </summary>
    ValidationFailed,
}
