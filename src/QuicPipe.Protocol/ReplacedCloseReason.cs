using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace QuicPipe.Protocol;

/// <summary>
/// The reason phrase of a <see cref="RelayProtocol.CloseReplaced"/> close. It names the address the newer control
/// connection came from: two processes sharing one key take each other's routes, and the one that lost them can
/// then tell its user where the other one runs instead of silently taking the routes back.
/// </summary>
public static class ReplacedCloseReason
{
    private const string Prefix = "quicpipe relay: a newer control connection of this NodeId, from ";
    private const string Suffix = ", took over";

    /// <summary>The phrase for a takeover by a connection from <paramref name="newer"/>: at most 140 characters, within the relay's 200.</summary>
    public static string Format(IPEndPoint newer)
    {
        ArgumentNullException.ThrowIfNull(newer);
        return Prefix + newer + Suffix;
    }

    /// <summary>Reads back the newer connection's address from a phrase <see cref="Format"/> made (false for any other text).</summary>
    public static bool TryParse([NotNullWhen(true)] string? phrase, [NotNullWhen(true)] out IPEndPoint? newer)
    {
        newer = null;
        return phrase is not null
            && phrase.StartsWith(Prefix, StringComparison.Ordinal)
            && phrase.EndsWith(Suffix, StringComparison.Ordinal)
            && IPEndPoint.TryParse(phrase.AsSpan(Prefix.Length, phrase.Length - Prefix.Length - Suffix.Length), out newer);
    }
}
