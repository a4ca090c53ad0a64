using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// Turns a packet that cannot go into the ICMP error that says why, in its batch slot, from our address of its family
/// on the TUN device, and marks it to be written back into the device. Where the rules forbid an answer (an ICMP error
/// itself, a later fragment, a multicast source) or we have no address of the family, the packet is dropped.
/// </summary>
internal sealed class IcmpResponder
{
    private readonly byte[] _ipv4;
    private readonly byte[] _ipv6;

    public IcmpResponder(IEnumerable<IPAddress> ourAddresses)
    {
        var addresses = ourAddresses.ToArray();
        _ipv4 = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)?.GetAddressBytes() ?? [];
        _ipv6 = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6)?.GetAddressBytes() ?? [];
    }

    /// <summary>Answers the packet in slot <paramref name="index"/> with destination unreachable (no route).</summary>
    public void Unreachable(PacketBatch batch, int index, in IpPacketInfo packet)
    {
        var source = SourceFor(packet);
        var length = source.IsEmpty ? 0 : IcmpError.WriteUnreachable(batch.Payload(index), source, UnreachableReason.NoRoute, batch.Slot(index));
        Finish(batch, index, length, DropReason.NoRoute);
    }

    /// <summary>Answers the packet in slot <paramref name="index"/> with "too big" for <paramref name="mtu"/>.</summary>
    public void TooBig(PacketBatch batch, int index, in IpPacketInfo packet, int mtu)
    {
        var source = SourceFor(packet);

        // An IPv6 path must carry 1280-byte packets (RFC 8200): below that there is no MTU to tell the sender.
        var answerable = !source.IsEmpty && (packet.Version == 4 ? mtu >= 68 : mtu >= 1280);
        var length = answerable ? IcmpError.WritePacketTooBig(batch.Payload(index), source, mtu, batch.Slot(index)) : 0;
        Finish(batch, index, length, DropReason.Oversize);
    }

    private static void Finish(PacketBatch batch, int index, int length, DropReason otherwise)
    {
        if (length == 0)
        {
            batch.Drop(index, otherwise);
            return;
        }

        batch.Lengths[index] = length;
        batch.Forward(index, default);
    }

    private ReadOnlySpan<byte> SourceFor(in IpPacketInfo packet) => packet.Version == 4 ? _ipv4 : _ipv6;
}
