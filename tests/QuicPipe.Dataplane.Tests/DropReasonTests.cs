using Xunit;

namespace QuicPipe.Dataplane.Tests;

public class DropReasonTests
{
    [Fact]
    public void Every_reason_has_a_counter_slot_and_its_own_stats_name()
    {
        // Stats lines and the relay's JSON list reasons by index up to Count, under these names: a reason added
        // without both would be counted nowhere or printed as "unknown".
        var reasons = Enum.GetValues<DropReason>();

        Assert.Equal(DropReasons.Count, reasons.Length);
        Assert.Equal(Enumerable.Range(0, DropReasons.Count), reasons.Select(r => (int)r));
        var names = reasons.Select(DropReasons.Name).ToList();
        Assert.DoesNotContain("unknown", names);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.Matches("^[a-z]+(_[a-z]+)*$", n));
        Assert.Equal("impaired", DropReasons.Name(DropReason.Impaired));
    }
}
