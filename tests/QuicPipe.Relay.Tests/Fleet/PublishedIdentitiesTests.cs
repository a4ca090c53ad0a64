using QuicPipe.Relay.Fleet.Internal;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Fleet;

public class PublishedIdentitiesTests
{
    [Fact]
    public void The_latest_change_of_each_NodeId_is_what_gets_written()
    {
        var published = new PublishedIdentities();
        published.Add(Node(1));
        published.Add(Node(2));
        published.Remove(Node(1));

        var changes = published.TakeChanges(10);
        Assert.Equal([(Node(1), false), (Node(2), true)], changes.OrderBy(c => c.Node.ToString() == Node(2).ToString()));
        Assert.False(published.HasChanges);
        Assert.Equal(1, published.Count);
    }

    [Fact]
    public void Changes_that_failed_are_written_again_and_a_reconnect_puts_everything_again()
    {
        var published = new PublishedIdentities();
        for (var i = 0; i < 5; i++)
        {
            published.Add(Node(i));
        }

        var first = published.TakeChanges(3);
        Assert.Equal(3, first.Count);
        published.Return(first);
        Assert.Equal(5, published.TakeChanges(10).Count);

        published.MarkAllDirty();
        var again = published.TakeChanges(10);
        Assert.Equal(5, again.Count);
        Assert.All(again, c => Assert.True(c.Put));
    }
}
