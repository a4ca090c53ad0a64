namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// What RTM_GETLINK says about an existing network device: enough to tell a TUN device of ours from a foreign one
/// or from another kind of device.
/// </summary>
/// <param name="Index">The interface index.</param>
/// <param name="Kind">IFLA_INFO_KIND ("tun", "veth", ...), or null for a device without rtnetlink ops (a NIC).</param>
/// <param name="Alias">IFLA_IFALIAS, or null when none is set.</param>
/// <param name="TunType">IFLA_TUN_TYPE of a tun-kind device: IFF_TUN or IFF_TAP; 0 otherwise.</param>
/// <param name="Persistent">IFLA_TUN_PERSIST: the device outlives the descriptors attached to it.</param>
internal readonly record struct NetlinkLink(int Index, string? Kind, string? Alias, int TunType, bool Persistent);
