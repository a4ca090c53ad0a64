using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// A started server with one UDP listener whose only stage throws what a loop must not swallow (out of memory): the
/// first datagram to it ends the receive loop as a real out-of-memory would, for the tests of what a dead loop means.
/// </summary>
internal static class FatalStageServer
{
    public static async Task<QuicPipeServer> StartAsync()
    {
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 1;
            udp.Use(next => batch => throw new OutOfMemoryException("simulated"));
        });
        var server = builder.Build();
        await server.StartAsync();
        return server;
    }

    /// <summary>The address the listener's receive loop serves (its thread is named after it).</summary>
    public static IPEndPoint LoopAddress(QuicPipeServer server) =>
        server.Listeners[0].Features.Get<UdpTransport>()!.LocalAddresses[0].ToEndPoint();

    /// <summary>Sends the datagram that ends the listener's receive loop.</summary>
    public static void KillLoop(QuicPipeServer server)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.SendTo("x"u8.ToArray(), LoopAddress(server));
    }
}
