using QuicPipe.Dataplane;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// Turns a packet that cannot go into the ICMP error that says why, in its batch slot, and marks it to be written
/// back into the TUN device. The error comes from the packet's destination, as if from a router beyond the device: an
/// answer from one of our own addresses would arrive on the device with a local source, which the kernel drops as a
/// martian. Where the rules forbid an answer (an ICMP error itself, a later fragment, a multicast source) the packet
/// is dropped.
/// </summary>
internal static class IcmpResponder
{
    /// <summary>Answers the packet in slot <paramref name="index"/> with destination unreachable (no route).</summary>
    public static void Unreachable(PacketBatch batch, int index, in IpPacketInfo packet)
    {
        var payload = batch.Payload(index);
        var length = IcmpError.WriteUnreachable(payload, packet.Destination(payload), UnreachableReason.NoRoute, batch.Slot(index));
        Finish(batch, index, length, DropReason.NoRoute);
    }

    /// <summary>Answers the packet in slot <paramref name="index"/> with "too big" for <paramref name="mtu"/>.</summary>
    public static void TooBig(PacketBatch batch, int index, in IpPacketInfo packet, int mtu)
    {
        // An IPv6 path must carry 1280-byte packets (RFC 8200): below that there is no MTU to tell the sender.
        if (packet.Version == 4 ? mtu < 68 : mtu < 1280)
        {
            batch.Drop(index, DropReason.Oversize);
            return;
        }

        var payload = batch.Payload(index);
        var length = IcmpError.WritePacketTooBig(payload, packet.Destination(payload), mtu, batch.Slot(index));
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
}
