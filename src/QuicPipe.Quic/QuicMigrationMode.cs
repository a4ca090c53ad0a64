namespace QuicPipe.Quic;

/// <summary>How <see cref="QuicConnection.MigrateAsync(System.Net.IPEndPoint, QuicMigrationMode, CancellationToken)"/> moves a connection.</summary>
public enum QuicMigrationMode
{
    /// <summary>
    /// Validate the new path first (PATH_CHALLENGE and PATH_RESPONSE) and switch only once the peer answered there;
    /// if nobody answers, the connection stays where it is. For a path that is not known to work (a hole-punched
    /// direct address).
    /// </summary>
    ValidateFirst,

    /// <summary>
    /// Switch at once, restart congestion control and loss recovery on the new path, and validate it afterwards.
    /// For a path known to work, when the current one is dead (falling back to a relay the connection used before):
    /// nothing waits behind the dead path's full congestion window and backed-off loss timer. ngtcp2 0.12 sends a
    /// validating migration's PATH_CHALLENGE only when the current path's window has room or a probe timeout fires,
    /// which on a dead path took 0.2-2 s. If the validation fails the connection stays on the new path (there is no
    /// way back to a dead one) and the migration's task fails.
    /// </summary>
    Immediate,
}
