using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

/// <summary>
/// A theory that is skipped, with the reason shown, when this kernel cannot do UDP GRO and GSO: xunit 2
/// has no skip from inside a test, so the probe runs here, at discovery (one loopback socket, no traffic).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class GroTheoryAttribute : TheoryAttribute
{
    public GroTheoryAttribute()
    {
        using var probe = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: true, gso: true));
        if (!probe.GroActive || !probe.GsoActive)
        {
            Skip = $"This kernel lacks UDP_GRO or UDP_SEGMENT (GroActive={probe.GroActive}, GsoActive={probe.GsoActive}).";
        }
    }
}
