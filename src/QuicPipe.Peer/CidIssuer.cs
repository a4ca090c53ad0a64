using System.Security.Cryptography;
using QuicPipe.Dataplane;

namespace QuicPipe.Peer;

/// <summary>
/// Issues this peer's connection IDs: keyed BLAKE2b over a counter (<see cref="CidDerivation"/>), in the
/// peer-to-peer namespace. The relay is given the key once and derives the same CIDs, so every CID the QUIC
/// engine hands out (server SCIDs, NEW_CONNECTION_ID, the initial DCIDs offered to dialers) is already routed
/// to us without registering each one.
/// </summary>
public sealed class CidIssuer
{
    private readonly byte[] _key;
    private long _counter;

    /// <param name="length">CID length in bytes (the relay's configured length).</param>
    /// <param name="key">The derivation key (16 to 64 bytes); random 32 bytes when null.</param>
    public CidIssuer(int length, byte[]? key = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, CidDerivation.MinLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, ConnectionId.MaxLength);
        _key = key?.ToArray() ?? RandomNumberGenerator.GetBytes(32);
        if (_key.Length is < CidDerivation.MinKeyLength or > CidDerivation.MaxKeyLength)
        {
            throw new ArgumentException($"The CID key has {CidDerivation.MinKeyLength} to {CidDerivation.MaxKeyLength} bytes.", nameof(key));
        }

        Length = length;
    }

    /// <summary>The derivation key, to register with the relay.</summary>
    public ReadOnlyMemory<byte> Key => _key;

    /// <summary>Length of every CID issued.</summary>
    public int Length { get; }

    /// <summary>The counter of the newest CID issued (0 before the first).</summary>
    public uint HighestCounter => (uint)Interlocked.Read(ref _counter);

    /// <summary>The next CID (counters start at 1). Thread-safe.</summary>
    public ConnectionId Next()
    {
        var counter = Interlocked.Increment(ref _counter);
        if (counter > uint.MaxValue)
        {
            throw new InvalidOperationException("This peer has issued 2^32 connection IDs; restart it with a new key.");
        }

        return CidDerivation.Derive(_key, (uint)counter, Length, CidNamespace.PeerToPeer);
    }

    /// <summary>For <see cref="Quic.QuicEndpointOptions.ConnectionIdGenerator"/>: checks the requested length.</summary>
    internal ConnectionId Next(int length) =>
        length == Length ? Next() : throw new InvalidOperationException($"CIDs here are {Length} bytes; {length} were asked for.");
}
