using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class ConnectionContextTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_stream_echoes_through_the_Connections_Abstractions_contexts()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var clientContext = client.AsMultiplexedConnectionContext();
        var serverContext = server.AsMultiplexedConnectionContext();
        var echo = EchoAsync(serverContext, timeout.Token);

        await using var stream = await clientContext.ConnectAsync(cancellationToken: timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        var reading = StreamTransfer.ReadToEndAsync(stream.Transport.Input, timeout.Token);
        for (var offset = 0; offset < payload.Length; offset += 10_000)
        {
            await stream.Transport.Output.WriteAsync(payload.AsMemory(offset, Math.Min(10_000, payload.Length - offset)), timeout.Token);
        }

        // Completing Output is the FIN: the echo side sees the end and completes its own Output.
        await stream.Transport.Output.CompleteAsync();
        var received = await reading;
        var serverStreamId = await echo;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
        Assert.Equal(0, stream.Features.Get<IStreamIdFeature>()!.StreamId);
        Assert.Equal(0, serverStreamId);
        Assert.Equal(pair.Server.LocalEndPoint, clientContext.RemoteEndPoint);

        // Closing the connection ends the peer's context: ConnectionClosed fires and AcceptAsync returns null.
        await clientContext.DisposeAsync();
        await Task.Delay(Timeout.Infinite, serverContext.ConnectionClosed).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(timeout.Token);
        Assert.Null(await serverContext.AcceptAsync(timeout.Token));
    }

    private static async Task<long> EchoAsync(MultiplexedConnectionContext connection, CancellationToken cancellationToken)
    {
        await using var stream = await connection.AcceptAsync(cancellationToken) ?? throw new InvalidOperationException("no stream");
        var input = stream.Transport.Input;
        var output = stream.Transport.Output;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                await output.WriteAsync(segment, cancellationToken);
            }

            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await output.CompleteAsync();
        return stream.Features.Get<IStreamIdFeature>()!.StreamId;
    }
}
