using QuicPipe.Relay.Fleet;
using Xunit;

namespace QuicPipe.Relay.Tests.Fleet;

public class RelayDirectoryUrlTests
{
    [Theory]
    [InlineData("etcd://127.0.0.1:2379", "127.0.0.1", 2379, "/quicpipe")]
    [InlineData("etcd://10.0.0.5:2379/edge-fleet/", "10.0.0.5", 2379, "/edge-fleet")]
    [InlineData("etcd://[::1]:2379", "::1", 2379, "/quicpipe")]
    [InlineData("etcd://etcd.internal:32379/a/b", "etcd.internal", 32379, "/a/b")]
    public void An_etcd_url_gives_host_port_and_key_prefix(string text, string host, int port, string prefix)
    {
        Assert.True(RelayDirectoryUrl.TryParse(text, out var url, out var error), error);
        Assert.Equal(new RelayDirectoryUrl(host, port, prefix), url);
    }

    [Theory]
    [InlineData("nats://127.0.0.1:4222", "nats:// directories are not supported in this build; use etcd://HOST:PORT")]
    [InlineData("http://127.0.0.1:2379", "unknown directory scheme 'http://'")]
    [InlineData("etcd://127.0.0.1", "give the etcd client port")]
    [InlineData("127.0.0.1:2379", "expected etcd://HOST:PORT")]
    [InlineData("etcd://127.0.0.1:2379/x?y=1", "no user, query or fragment")]
    public void Anything_else_is_refused_in_one_line_that_says_what_to_give(string text, string expected)
    {
        Assert.False(RelayDirectoryUrl.TryParse(text, out var url, out var error));
        Assert.Null(url);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }
}
