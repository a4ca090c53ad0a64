using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Peer.Direct;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// The port search's hard role and its bridge on loopback sockets: the extra sockets it opens, within its bounds, all
/// closed at the end; a probe of the other side's that lands on one makes that socket the bridge, which carries
/// datagrams between the peer and our one socket and nothing else.
/// </summary>
public sealed class PortSearchTests
{
    private static readonly TimeSpan Arrives = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Opening_ports_stays_within_its_bounds_and_closes_every_socket_when_nothing_answers()
    {
        var search = new PortSearch(new HolePuncher(16, TimeSpan.FromMinutes(1)));
        var session = NewSession();
        using var easy = Bind();
        using var main = Bind();

        var openDuring = 0;
        var opening = search.OpenPortsAsync(session, Local(easy), Local(main), hopLimit: 0, TimeSpan.FromSeconds(1), CancellationToken.None);
        while (!opening.IsCompleted)
        {
            openDuring = Math.Max(openDuring, search.SocketsOpen);
            await Task.Delay(50);
        }

        Assert.Null(await opening);
        Assert.Equal(0, search.SocketsOpen);
        Assert.InRange(openDuring, 5, PortSearch.MaxSockets);

        // At most 100 a second for 1 s (the pacing may start one tick ahead; a loaded machine sends fewer, never a
        // burst); each is one opening ping to the easy side.
        Assert.InRange(search.SocketsOpened, 10, 103);
        Assert.Equal(search.SocketsOpened, search.ProbesSent);
        var pings = 0;
        while (TryReceive(easy, TimeSpan.FromMilliseconds(200)) is { } ping)
        {
            Assert.True(PunchProbe.TryRead(ping.Data, out var kind, out var key, out _));
            Assert.Equal((PunchProbeKind.Ping, session.Key), (kind, key));
            pings++;
        }

        Assert.Equal(search.SocketsOpened, pings);
    }

    [Fact]
    public async Task A_probe_landing_on_an_extra_socket_makes_it_a_bridge_to_our_socket_and_the_rest_close()
    {
        var search = new PortSearch(new HolePuncher(16, TimeSpan.FromMinutes(1)));
        var session = NewSession();
        using var easy = Bind();
        using var main = Bind();
        var opening = search.OpenPortsAsync(session, Local(easy), Local(main), hopLimit: 0, TimeSpan.FromSeconds(10), CancellationToken.None);

        // The easy side answers the third extra socket it hears from with a probe of the session's.
        (byte[] Data, IPEndPoint From)? third = null;
        for (var i = 0; i < 3; i++)
        {
            third = TryReceive(easy, Arrives);
        }

        var probe = new byte[PunchProbe.Length];
        PunchProbe.Write(probe, PunchProbeKind.Ping, session.Token.Span, 42);
        easy.SendTo(probe, third!.Value.From);
        await using var bridge = await opening.WaitAsync(Arrives) ?? throw new Xunit.Sdk.XunitException("no bridge");

        Assert.Equal(0, search.SocketsOpen);
        Assert.Equal(1, search.Hits);
        Assert.Equal(Local(easy), bridge.Outside);
        Assert.Equal(third.Value.From.Port, bridge.Address.Port);

        // The probe that made the hit reaches our socket first, from the bridge's address.
        var first = TryReceive(main, Arrives) ?? throw new Xunit.Sdk.XunitException("the hit's probe was not handed on");
        Assert.Equal(probe, first.Data);
        Assert.Equal(bridge.Address, first.From);

        // Our socket -> bridge -> the peer, from the extra socket's port; and back.
        main.SendTo("to the peer"u8.ToArray(), bridge.Address);
        var out1 = ReceiveSkippingProbes(easy) ?? throw new Xunit.Sdk.XunitException("not carried out");
        Assert.Equal(("to the peer", third.Value.From), (Encoding.ASCII.GetString(out1.Data), out1.From));
        easy.SendTo("to us"u8.ToArray(), third.Value.From);
        var in1 = TryReceive(main, Arrives) ?? throw new Xunit.Sdk.XunitException("not carried in");
        Assert.Equal(("to us", bridge.Address), (Encoding.ASCII.GetString(in1.Data), in1.From));

        // Anyone else is dropped.
        using var stranger = Bind();
        stranger.SendTo("let me in"u8.ToArray(), third.Value.From);
        Assert.Null(TryReceive(main, TimeSpan.FromMilliseconds(300)));
        Assert.Null(TryReceive(stranger, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task A_bridge_closes_its_socket_after_its_idle_timeout()
    {
        using var peer = Bind();
        using var main = Bind();
        var extra = Bind();
        var bridge = new PortBridge(extra, Local(peer), Local(main), "hello"u8.ToArray(), TimeSpan.FromMilliseconds(300));
        Assert.NotNull(TryReceive(main, Arrives));

        await bridge.Closed.WaitAsync(Arrives);
        Assert.Throws<ObjectDisposedException>(() => extra.SendTo("x"u8.ToArray(), Local(peer)));
        await bridge.DisposeAsync();
    }

    private static PunchSession NewSession() => new(RandomNumberGenerator.GetBytes(PunchProbe.TokenLength), NodeIdentity.Generate().NodeId, Environment.TickCount64);

    private static Socket Bind()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private static IPEndPoint Local(Socket socket) => (IPEndPoint)socket.LocalEndPoint!;

    /// <summary>The next datagram that is not a punch probe (the opening pings of sockets opened before the hit).</summary>
    private static (byte[] Data, IPEndPoint From)? ReceiveSkippingProbes(Socket socket)
    {
        while (TryReceive(socket, Arrives) is { } received)
        {
            if (!PunchProbe.TryRead(received.Data, out _, out _, out _))
            {
                return received;
            }
        }

        return null;
    }

    private static (byte[] Data, IPEndPoint From)? TryReceive(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[2048];
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var result = socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancel.Token).AsTask().GetAwaiter().GetResult();
            return (buffer[..result.ReceivedBytes], (IPEndPoint)result.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
