using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using QuicPipe.Relay.Fleet;

namespace QuicPipe.Relay;

/// <summary>
/// What a <see cref="RelayRouter"/> needs: its CID length, table bound, routes file, identity, registry and control
/// limits. How its listener's sockets are served (addresses, threads, batches) is the server's, set on the
/// listener (or, for a <see cref="RelayServer"/>, in <see cref="RelayServerOptions"/>).
/// </summary>
public class RelayOptions
{
    public const int DefaultPort = 4433;
    public const int DefaultCidLength = 12;
    public const int DefaultTableCapacity = 262_144;

    /// <summary>Static routes file (<c>CIDHEX HOST:PORT</c> per line), or null for none.</summary>
    public string? RoutesFile { get; set; }

    /// <summary>Length of the destination CID in short-header packets (the relay cannot read it from the packet).</summary>
    public int CidLength { get; set; } = DefaultCidLength;

    /// <summary>Routes the CID table holds at most: this bounds the relay's memory.</summary>
    public int TableCapacity { get; set; } = DefaultTableCapacity;

    /// <summary>
    /// The relay's identity, which its control service presents and peers pin (<c>--relay-id</c>). Null: a new one
    /// each start, so peers that trusted the old one on first use refuse the restarted relay.
    /// </summary>
    public NodeIdentity? Identity { get; set; }

    /// <summary>
    /// The NodeIds allowed to use the control service (<c>relay --peers FILE</c>), or null to serve any peer. Others
    /// are answered NOT_ALLOWED and their control connection is closed; a reload that drops a NodeId ends its routes.
    /// </summary>
    public PeerAllowList? AllowList { get; set; }

    /// <summary>
    /// The fleet's directory (<c>relay --directory URL</c>): the relay publishes the identities registered with it
    /// there and serves dials for NodeIds registered at other relays of the same directory. Null: a lone relay.
    /// </summary>
    public RelayDirectoryUrl? Directory { get; set; }

    /// <summary>
    /// Where the other relays of the fleet send packets for this relay's peers (<c>relay --public-address</c>). Null:
    /// the first listen address, which then must not be a wildcard.
    /// </summary>
    public PeerAddress? PublicAddress { get; set; }

    /// <summary>Rules of CID registration: quotas, lifetimes, windows, grace after disconnect.</summary>
    public RegistryOptions Registry { get; set; } = new();

    /// <summary>The control service's limits and timers.</summary>
    public RelayControlOptions Control { get; set; } = new();

    public static IReadOnlyList<PeerAddress> DefaultListen { get; } =
    [
        PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Any, DefaultPort)),
        PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.IPv6Any, DefaultPort)),
    ];

    /// <summary>Throws <see cref="ArgumentException"/> with a message a person can act on.</summary>
    public virtual void Validate()
    {
        if (CidLength is < 1 or > ConnectionId.MaxLength)
        {
            throw new ArgumentException($"The CID length must be 1 to {ConnectionId.MaxLength} bytes, not {CidLength}.");
        }

        if (TableCapacity is < 1 or > 64 * 1024 * 1024)
        {
            throw new ArgumentException($"The table capacity must be 1 to {64 * 1024 * 1024} routes, not {TableCapacity}.");
        }
    }
}
