using Xunit;

namespace QuicPipe.Relay.Tests;

public class RouteFileTests
{
    private const string Cid = "0123456789abcdef01234567";

    [Fact]
    public void Comments_blank_lines_IPv4_and_IPv6_routes_parse()
    {
        var routes = RouteFile.Parse(
            [
                "# static routes",
                "",
                $"{Cid} 127.0.0.1:5000   # a comment after a route",
                "   89ABCDEF0123456789ABCDEF\t[::1]:6000",
            ],
            "routes.txt",
            12);

        Assert.Equal(2, routes.Count);
        Assert.Equal(Cid, routes[0].Cid.ToString());
        Assert.Equal("127.0.0.1:5000", routes[0].Endpoint.ToString());
        Assert.Equal(3, routes[0].Line);
        Assert.Equal("89abcdef0123456789abcdef", routes[1].Cid.ToString());
        Assert.True(routes[1].Endpoint.IsIPv6);
        Assert.Equal(6000, routes[1].Endpoint.Port);
    }

    [Theory]
    [InlineData("zz0123 127.0.0.1:1", "routes.txt:2: 'zz0123' is not a connection ID in hex")]
    [InlineData("012 127.0.0.1:1", "routes.txt:2: '012' is not a connection ID in hex")]
    [InlineData("0123456789abcdef 127.0.0.1:1", "routes.txt:2: connection ID 0123456789abcdef has 8 bytes, but the relay's CID length is 12")]
    [InlineData(Cid, "routes.txt:2: expected 'CIDHEX HOST:PORT', found 1 field(s)")]
    [InlineData(Cid + " 127.0.0.1:1 extra", "routes.txt:2: expected 'CIDHEX HOST:PORT', found 3 field(s)")]
    [InlineData(Cid + " 127.0.0.1", "routes.txt:2: '127.0.0.1' is not HOST:PORT")]
    [InlineData(Cid + " 127.0.0.1:70000", "routes.txt:2: '70000' is not a port")]
    [InlineData(Cid + " 127.0.0.1:0", "routes.txt:2: port 0")]
    [InlineData(Cid + " ::1:5000", "routes.txt:2: '::1:5000': write IPv6 addresses in brackets")]
    [InlineData(Cid + " no-such-host.invalid:5000", "routes.txt:2: cannot resolve host 'no-such-host.invalid'")]
    public void A_bad_line_is_refused_naming_file_and_line(string badLine, string expectedStart)
    {
        var e = Assert.Throws<RouteFileException>(() => RouteFile.Parse(["# first line is fine", badLine], "routes.txt", 12));
        Assert.StartsWith(expectedStart, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duplicate_CID_names_both_lines()
    {
        var e = Assert.Throws<RouteFileException>(() => RouteFile.Parse([$"{Cid} 127.0.0.1:1", $"{Cid} 127.0.0.1:2"], "r", 12));
        Assert.Equal($"r:2: connection ID {Cid} is already routed on line 1", e.Message);
    }

    [Fact]
    public void A_missing_file_is_a_clear_error()
    {
        var path = Path.Combine(Path.GetTempPath(), $"quicpipe-no-such-{Guid.NewGuid():N}.txt");
        var e = Assert.Throws<RouteFileException>(() => RouteFile.Load(path, 12));
        Assert.Equal($"{path}: no such file", e.Message);
    }
}
