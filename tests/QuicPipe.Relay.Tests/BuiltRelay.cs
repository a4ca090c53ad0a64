using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Xdp;

namespace QuicPipe.Relay.Tests;

/// <summary>
/// A relay started through the server builder, the way <c>quicpipe relay</c> starts it: one UDP listener (one
/// receive loop) with UseRelay, and UseXdpOffload beside it when XDP options are given. Started synchronously on the
/// calling thread, so that inside NetworkLab.InNamespace the sockets and the program land in that namespace.
/// </summary>
internal sealed class BuiltRelay : IDisposable
{
    private BuiltRelay(QuicPipeServer server)
    {
        Server = server;
    }

    public QuicPipeServer Server { get; }

    public RelayRouter Relay => Server.Listeners[0].Features.GetRequiredFeature<RelayRouter>();

    public XdpOffloadService? Xdp => Server.Listeners[0].Features.Get<XdpOffloadService>();

    /// <summary>The offload's loaded program (tests change its map behind the relay's back through this).</summary>
    public XdpProgram Program => Xdp?.Offload?.Program ?? throw new InvalidOperationException("no XDP offload is running");

    public static QuicPipeServerBuilder Builder() =>
        QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

    public static BuiltRelay Start(RelayOptions options, IPEndPoint listen, RelayXdpOptions? xdp = null)
    {
        var builder = Builder();
        var relay = new RelayRouter(options);
        builder.ListenUdp(listen, udp =>
        {
            udp.Threads = 1;
            udp.UseRelay(relay);
            if (xdp is not null)
            {
                udp.UseXdpOffload(xdp);
            }
        });
        var server = builder.Build();
        try
        {
            server.StartAsync().GetAwaiter().GetResult();
        }
        catch
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        return new BuiltRelay(server);
    }

    /// <summary>The relay's stats with the offload's, as the CLI's stats line shows them.</summary>
    public RelayStats Snapshot() => Relay.Snapshot() with { Xdp = Xdp?.Snapshot() };

    public void Dispose() => Server.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
