namespace QuicPipe.Vpn;

/// <summary>Why a packet cannot be delivered, in words that map onto both ICMP and ICMPv6 codes.</summary>
public enum UnreachableReason
{
    /// <summary>No route matches the destination: ICMP code 0 (net unreachable), ICMPv6 code 0 (no route to destination).</summary>
    NoRoute,

    /// <summary>A route matches but the host behind it cannot be reached: ICMP code 1 (host unreachable), ICMPv6 code 3 (address unreachable).</summary>
    HostUnreachable,
}
