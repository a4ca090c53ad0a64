using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

/// <summary>
/// What an identity asks to route: derived CIDs (<see cref="CidKey"/> non-empty: counters
/// [<see cref="FirstCounter"/>, <see cref="FirstCounter"/> + <see cref="Window"/>)) and/or explicit
/// <see cref="Cids"/>, for <see cref="Lifetime"/> (zero: the registry's default).
/// </summary>
public sealed record CidRegistrationRequest(ReadOnlyMemory<byte> CidKey, uint FirstCounter, int Window, IReadOnlyList<ConnectionId> Cids, TimeSpan Lifetime);
