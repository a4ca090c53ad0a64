using System.Text;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

public class ProxyParserTests
{
    private static readonly string Peer = NodeIdentity.Generate().NodeId.ToString();

    [Fact]
    public void A_CONNECT_head_parses_and_consumed_stops_at_the_empty_line()
    {
        var bytes = Encoding.ASCII.GetBytes($"CONNECT {Peer}.quicpipe:8080 HTTP/1.1\r\nHost: {Peer}.quicpipe:8080\r\nProxy-Authorization: Basic dTpw\r\n\r\nEARLY");

        Assert.Equal(ProxyParseResult.Complete, HttpProxyRequest.TryParse(bytes, out var request, out var consumed));
        Assert.True(request.IsConnect);
        Assert.Equal($"{Peer}.quicpipe", request.Host);
        Assert.Equal(8080, request.Port);
        Assert.Equal("Basic dTpw", request.ProxyAuthorization);
        Assert.Equal("EARLY", Encoding.ASCII.GetString(bytes.AsSpan(consumed)));
    }

    [Fact]
    public void An_IPv6_authority_loses_its_brackets_and_an_origin_form_request_has_no_host()
    {
        Assert.Equal(ProxyParseResult.Complete, HttpProxyRequest.TryParse("CONNECT [::1]:443 HTTP/1.0\r\n\r\n"u8, out var v6, out _));
        Assert.Equal("::1", v6.Host);
        Assert.Equal(443, v6.Port);
        Assert.Equal(HttpTargetForm.Authority, v6.Form);

        Assert.Equal(ProxyParseResult.Complete, HttpProxyRequest.TryParse("GET /proxy.pac HTTP/1.1\r\nHost: x\r\n\r\n"u8, out var get, out _));
        Assert.False(get.IsConnect);
        Assert.Equal(HttpTargetForm.Origin, get.Form);
        Assert.Null(get.Host);
        Assert.Equal("/proxy.pac", get.Path);
    }

    [Fact]
    public void Every_prefix_of_a_valid_head_is_incomplete()
    {
        var bytes = Encoding.ASCII.GetBytes($"CONNECT {Peer}.quicpipe:80 HTTP/1.1\r\nHost: a\r\n\r\n");
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Equal(ProxyParseResult.Incomplete, HttpProxyRequest.TryParse(bytes.AsSpan(0, length), out _, out _));
        }
    }

    [Theory]
    [InlineData("CONNECT host HTTP/1.1\r\n\r\n")] // no port
    [InlineData("CONNECT host:0 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT host:65536 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT host:80x HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT :80 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT a:b:80 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT user@host:80 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT host:80 HTTP/2.0\r\n\r\n")]
    [InlineData("CONNECT  host:80 HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT host:80\r\n\r\n")]
    [InlineData("CONNECT host:80 HTTP/1.1\r\nBad Header: x\r\n\r\n")]
    [InlineData("CONNECT host:80 HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n")]
    [InlineData("CONNECT host:80 HTTP/1.1\r\nNoColon\r\n\r\n")]
    [InlineData("CONNECT host:80 HTTP/1.1\r\nX: a\u0001b\r\n\r\n")]
    [InlineData("CONNECT host:80 HTTP/1.1\r\nX: a\nY: b\r\n\r\n")]
    public void Malformed_heads_are_invalid(string text)
    {
        Assert.Equal(ProxyParseResult.Invalid, HttpProxyRequest.TryParse(Encoding.Latin1.GetBytes(text), out _, out _));
    }

    [Theory]
    [InlineData(new byte[] { 0x05, 0x01, 0x00 })] // a SOCKS5 greeting sent to the HTTP proxy
    [InlineData(new byte[] { 0x16, 0x03, 0x01 })] // a TLS ClientHello
    [InlineData(new byte[] { (byte)' ', (byte)'G' })]
    public void Garbage_is_invalid_before_the_head_is_complete(byte[] bytes)
    {
        Assert.Equal(ProxyParseResult.Invalid, HttpProxyRequest.TryParse(bytes, out _, out _));
    }

    [Fact]
    public void Socks5_greeting_password_and_request_parse()
    {
        Assert.Equal(ProxyParseResult.Complete, Socks5Greeting.TryParse([5, 2, 0, 2, 0xAA], out var greeting, out var used));
        Assert.Equal(4, used);
        Assert.True(greeting.Offers(Socks5Greeting.UserNamePassword));
        Assert.False(greeting.Offers(0x01));

        Assert.Equal(ProxyParseResult.Complete, Socks5PasswordRequest.TryParse([1, 1, (byte)'u', 2, (byte)'p', (byte)'w'], out var login, out used));
        Assert.Equal(6, used);
        Assert.Equal("u"u8.ToArray(), login.User.ToArray());
        Assert.Equal("pw"u8.ToArray(), login.Password.ToArray());

        var name = Encoding.ASCII.GetBytes($"{Peer}.quicpipe");
        byte[] request = [5, 1, 0, 3, (byte)name.Length, .. name, 0x1F, 0x90];
        Assert.Equal(ProxyParseResult.Complete, Socks5Request.TryParse(request, out var connect, out used));
        Assert.Equal(request.Length, used);
        Assert.Equal(Socks5Request.CommandConnect, connect.Command);
        Assert.Equal($"{Peer}.quicpipe", connect.Host);
        Assert.Equal(8080, connect.Port);
        for (var length = 0; length < request.Length; length++)
        {
            Assert.Equal(ProxyParseResult.Incomplete, Socks5Request.TryParse(request.AsSpan(0, length), out _, out _));
        }

        Assert.Equal(ProxyParseResult.Complete, Socks5Request.TryParse([5, 1, 0, 1, 127, 0, 0, 1, 0, 80], out var v4, out _));
        Assert.Equal("127.0.0.1", v4.Host);
        Assert.Equal(ProxyParseResult.Complete, Socks5Request.TryParse([5, 1, 0, 9], out var unknown, out used));
        Assert.Equal(4, used);
        Assert.Null(unknown.Host);
    }

    [Fact]
    public void Socks5_messages_of_another_version_or_empty_are_invalid()
    {
        Assert.Equal(ProxyParseResult.Invalid, Socks5Greeting.TryParse([4, 1, 0], out _, out _));
        Assert.Equal(ProxyParseResult.Invalid, Socks5Greeting.TryParse([5, 0], out _, out _));
        Assert.Equal(ProxyParseResult.Invalid, Socks5Greeting.TryParse("GET "u8, out _, out _));
        Assert.Equal(ProxyParseResult.Invalid, Socks5PasswordRequest.TryParse([5, 1, 0], out _, out _));
        Assert.Equal(ProxyParseResult.Invalid, Socks5PasswordRequest.TryParse([1, 0, 0], out _, out _));
        Assert.Equal(ProxyParseResult.Invalid, Socks5Request.TryParse([4, 1, 0, 3], out _, out _));
        Assert.Equal(ProxyParseResult.Incomplete, Socks5Greeting.TryParse([5, 3, 0], out _, out _));
    }

    [Fact]
    public void Peer_host_names_are_the_NodeId_under_quicpipe_in_any_case()
    {
        var id = NodeId.Parse(Peer);
        Assert.Equal(PeerHostNameKind.Peer, PeerHostName.Parse(PeerHostName.Format(id), out var parsed));
        Assert.Equal(id, parsed);
        Assert.Equal(PeerHostNameKind.Peer, PeerHostName.Parse(PeerHostName.Format(id).ToUpperInvariant() + ".", out parsed));
        Assert.Equal(id, parsed);
        Assert.Equal(PeerHostNameKind.InvalidNodeId, PeerHostName.Parse("nope.quicpipe", out _));
        Assert.Equal(PeerHostNameKind.NotAPeer, PeerHostName.Parse("example.com", out _));
        Assert.Equal(PeerHostNameKind.NotAPeer, PeerHostName.Parse(Peer, out _));
    }

    [Fact]
    public void Credentials_match_Basic_and_raw_pairs_exactly()
    {
        Assert.True(ProxyCredentials.TryParse("alice:se:cret", out var credentials));
        var basic = "Basic " + Convert.ToBase64String("alice:se:cret"u8);
        Assert.True(credentials!.MatchesBasic(basic));
        Assert.True(credentials.MatchesBasic("basic  " + Convert.ToBase64String("alice:se:cret"u8)));
        Assert.False(credentials.MatchesBasic("Basic " + Convert.ToBase64String("alice:se:cre"u8)));
        Assert.False(credentials.MatchesBasic("Basic !!!"));
        Assert.False(credentials.MatchesBasic("Bearer x"));
        Assert.False(credentials.MatchesBasic(null));
        Assert.True(credentials.Matches("alice"u8, "se:cret"u8));
        Assert.False(credentials.Matches("alic"u8, "se:cret"u8));
        Assert.False(ProxyCredentials.TryParse(":pw", out _));
        Assert.False(ProxyCredentials.TryParse("nocolon", out _));
    }
}
