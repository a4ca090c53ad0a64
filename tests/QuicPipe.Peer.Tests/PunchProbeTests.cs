using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Peer.Direct;
using Xunit;

namespace QuicPipe.Peer.Tests;

public sealed class PunchProbeTests
{
    [Fact]
    public void A_probe_reads_back_as_written()
    {
        var token = RandomNumberGenerator.GetBytes(PunchProbe.TokenLength);
        var probe = new byte[PunchProbe.Length];
        PunchProbe.Write(probe, PunchProbeKind.Pong, token, 0x0102030405060708);

        Assert.True(PunchProbe.TryRead(probe, out var kind, out var key, out var echo));
        Assert.Equal(PunchProbeKind.Pong, kind);
        Assert.Equal(PunchProbe.TokenKey(token), key);
        Assert.Equal(0x0102030405060708UL, echo);
        Assert.Equal(0, probe[0] & 0x40); // QUIC's fixed bit clear: no QUIC stack takes it for a packet
    }

    [Theory]
    [InlineData(0, 0x01)] // first byte
    [InlineData(4, 0x02)] // version
    [InlineData(5, 0x03)] // kind
    public void A_datagram_that_differs_in_a_fixed_field_is_not_a_probe(int index, byte value)
    {
        var probe = new byte[PunchProbe.Length];
        PunchProbe.Write(probe, PunchProbeKind.Ping, new byte[PunchProbe.TokenLength], 0);
        probe[index] = value;

        Assert.False(PunchProbe.TryRead(probe, out _, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(29)]
    [InlineData(31)]
    [InlineData(1200)]
    public void A_datagram_of_another_length_is_not_a_probe(int length) =>
        Assert.False(PunchProbe.TryRead(new byte[length], out _, out _, out _));

    [Fact]
    public void Received_candidates_are_checked_and_capped()
    {
        var texts = new List<string> { "198.18.0.1:4000", "garbage", "198.18.0.1:0", "[2001:db8::1]:4000", "224.0.0.1:4000", "0.0.0.0:4000", "255.255.255.255:4000", "198.18.0.1:4000" };
        texts.AddRange(Enumerable.Range(1, 20).Select(i => $"10.77.1.{i}:5000"));

        var parsed = PathCandidates.Parse(texts, AddressFamily.InterNetwork, []);

        Assert.Equal(PathCandidates.MaxCount, parsed.Count);
        Assert.Equal(IPEndPoint.Parse("198.18.0.1:4000"), parsed[0]);
        Assert.Equal(IPEndPoint.Parse("10.77.1.1:5000"), parsed[1]); // the duplicate and every unusable one left out
    }

    [Fact]
    public void With_a_loopback_relay_only_the_observed_address_is_a_candidate()
    {
        var observed = IPEndPoint.Parse("127.0.0.1:4001");

        var ours = PathCandidates.Gather(new IPEndPoint(IPAddress.Any, 4001), observed, IPEndPoint.Parse("127.0.0.1:4433"), []);

        Assert.Equal([observed], ours);
    }

    [Fact]
    public void Candidates_in_an_excluded_network_are_neither_offered_nor_taken()
    {
        IPNetwork[] vpn = [IPNetwork.Parse("100.64.0.0/24"), IPNetwork.Parse("10.9.0.0/16")];

        var theirs = PathCandidates.Parse(["100.64.0.2:4000", "198.18.0.2:4000", "10.9.3.4:4000", "10.10.0.1:4000"], AddressFamily.InterNetwork, vpn);
        var ours = PathCandidates.Gather(IPEndPoint.Parse("100.64.0.1:4001"), IPEndPoint.Parse("198.18.0.1:20001"), IPEndPoint.Parse("198.18.0.10:4433"), vpn);

        Assert.Equal([IPEndPoint.Parse("198.18.0.2:4000"), IPEndPoint.Parse("10.10.0.1:4000")], theirs);
        Assert.Equal([IPEndPoint.Parse("198.18.0.1:20001")], ours);
    }
}
