namespace QuicPipe.Relay;

/// <summary>Flag bits a route's <see cref="Dataplane.CidRoute.OwnerId"/> carries besides the owner itself.</summary>
public static class RouteFlags
{
    /// <summary>Bit 63: tell the <see cref="IRouteUseSink"/> when a packet is forwarded on this route.</summary>
    public const ulong ReportUse = 1UL << 63;

    /// <summary>The bits that say who owns a route (0: a static route).</summary>
    public const ulong OwnerMask = ~ReportUse;
}
