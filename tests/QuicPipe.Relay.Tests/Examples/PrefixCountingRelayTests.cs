using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;
using QuicPipe.Dataplane.Hosting;
using Xunit;

namespace QuicPipe.Relay.Tests.Examples;

/// <summary>docs/server-builder.md's embedding example, compiled here and run: and the document shows this very code.</summary>
public sealed class PrefixCountingRelayTests : IDisposable
{
    private const string ExampleMarker = "<!-- example: tests/QuicPipe.Relay.Tests/Examples/PrefixCountingRelay.cs -->";
    private readonly string _routesPath = Path.Combine(Path.GetTempPath(), $"quicpipe-example-routes-{Guid.NewGuid():N}.txt");

    public void Dispose() => File.Delete(_routesPath);

    [Fact]
    public async Task The_custom_stage_counts_each_source_prefix_and_the_relay_still_forwards()
    {
        using var sink = Bound(IPAddress.Loopback);
        using var near = Bound(IPAddress.Loopback);
        using var far = Bound(IPAddress.Parse("127.0.1.1"));
        var cid = RelayForwardingStageTests.Cid(7);
        File.WriteAllText(_routesPath, $"{cid} {sink.LocalEndPoint}\n");
        var counter = new SourcePrefixCounter();

        await using var server = PrefixCountingRelay.Build(new IPEndPoint(IPAddress.Loopback, 0), new RelayOptions { RoutesFile = _routesPath }, counter);
        await server.StartAsync();
        var relay = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>().LocalAddresses[0].ToEndPoint();

        var packet = RelayForwardingStageTests.ShortPacket(cid, 50);
        for (var i = 0; i < 3; i++)
        {
            near.SendTo(packet, relay);
        }

        for (var i = 0; i < 2; i++)
        {
            far.SendTo(packet, relay);
        }

        var buffer = new byte[2048];
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(packet.Length, sink.Receive(buffer));
        }

        Assert.Equal(3, counter.PacketsFrom(IPAddress.Parse("127.0.0.200")));
        Assert.Equal(2, counter.PacketsFrom(IPAddress.Parse("127.0.1.9")));
        Assert.Equal(0, counter.PacketsFrom(IPAddress.Parse("127.0.2.1")));
        Assert.Equal(0, counter.Other);

        // The loop counts a batch once the kernel took it, which may be just after the sink read it.
        var relayRouter = server.Listeners[0].Features.GetRequiredFeature<RelayRouter>();
        Assert.True(SpinWait.SpinUntil(() => relayRouter.Snapshot().Packets.Forwarded == 5, TimeSpan.FromSeconds(5)), $"forwarded {relayRouter.Snapshot().Packets.Forwarded}");
    }

    [Fact]
    public void The_document_shows_the_example_as_it_is_compiled_here()
    {
        var root = RepositoryRoot();
        var document = File.ReadAllText(Path.Combine(root, "docs", "server-builder.md")).ReplaceLineEndings("\n");
        var start = document.IndexOf(ExampleMarker, StringComparison.Ordinal);
        Assert.True(start >= 0, $"docs/server-builder.md lacks the marker {ExampleMarker}");
        var open = document.IndexOf("```csharp\n", start, StringComparison.Ordinal) + "```csharp\n".Length;
        var close = document.IndexOf("\n```", open, StringComparison.Ordinal);
        var shown = document[open..close];
        var source = File.ReadAllText(Path.Combine(root, "tests", "QuicPipe.Relay.Tests", "Examples", "PrefixCountingRelay.cs")).ReplaceLineEndings("\n").TrimEnd();

        Assert.Equal(source, shown);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "QuicPipe.Dataplane.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No QuicPipe.Dataplane.sln above {AppContext.BaseDirectory}");
    }

    private static Socket Bound(IPAddress address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(address, 0));
        return socket;
    }
}
