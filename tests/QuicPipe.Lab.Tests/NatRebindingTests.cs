using Xunit;

namespace QuicPipe.Lab.Tests;

/// <summary>Flushing a router's state: the old mapping is forgotten and A's next packet gets a new one.</summary>
public sealed class NatRebindingTests
{
    [LabTheory]
    [InlineData(NatKind.FullCone)]
    [InlineData(NatKind.AddressRestricted)]
    [InlineData(NatKind.PortRestricted)]
    [InlineData(NatKind.Symmetric)]
    public void Flush_forgets_As_mapping_and_rebinds_it_to_another_port(NatKind kind) => LabRun.With(kind, NatKind.None, lab =>
    {
        using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
        using var r = new UdpEndpoint(lab, LabHost.R, NatLab.AddressOf(LabHost.R), 7000);
        a.Send(r.Local, "before");
        var before = r.Receive().From;

        lab.FlushConntrack(LabHost.NatA);

        r.Send(before, "to the forgotten mapping");
        Assert.Null(a.TryReceive(UdpEndpoint.Dropped));
        a.Send(r.Local, "after");
        var after = r.Receive();
        Assert.Equal("after", after.Text);
        Assert.Equal(before.Address, after.From.Address);
        // A new random port of 10,000: the same one by chance once in 10,000 runs.
        Assert.NotEqual(before.Port, after.From.Port);
    });

    [LabFact]
    public void Flush_on_a_router_that_does_not_translate_changes_nothing() => LabRun.With(NatKind.None, NatKind.None, lab =>
    {
        using var a = new UdpEndpoint(lab, LabHost.A, NatLab.AddressOf(LabHost.A), 5000);
        using var r = new UdpEndpoint(lab, LabHost.R, NatLab.AddressOf(LabHost.R), 7000);

        lab.FlushConntrack(LabHost.NatA);

        a.Send(r.Local, "hello");
        Assert.Equal(a.Local, r.Receive().From);
        r.Send(a.Local, "back");
        Assert.Equal(("back", r.Local), a.Receive());
    });
}
