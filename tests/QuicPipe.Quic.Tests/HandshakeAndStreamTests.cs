using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class HandshakeAndStreamTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Loopbacks => new() { "127.0.0.1", "::1" };

    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Pinned_handshake_then_a_1_MiB_echo_comes_back_intact(string address)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Parse(address));
        var accept = pair.Server.AcceptAsync(timeout.Token).AsTask();

        var client = await pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token);
        var server = await accept;

        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        Assert.Equal(pair.ClientIdentity.NodeId, server.RemoteNodeId);
        Assert.Equal("quicpipe", client.NegotiatedAlpn);

        var echo = Task.Run(async () => await StreamTransfer.EchoAsync(await server.AcceptStreamAsync(timeout.Token), timeout.Token));
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var reading = StreamTransfer.ReadToEndAsync(stream.Input, timeout.Token);
        await StreamTransfer.WriteAllAsync(stream, payload, 64 * 1024, timeout.Token);
        var received = await reading;
        await echo;

        Assert.Equal(payload.Length, received.Length);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
        await client.CloseAsync(0, timeout.Token);
    }

    [Fact]
    public async Task A_wrong_pinned_server_NodeId_fails_the_handshake_naming_expected_and_actual()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var wrong = NodeIdentity.Generate().NodeId;

        var error = await Assert.ThrowsAsync<QuicConnectionException>(() => pair.ConnectAsync(wrong, timeout.Token));

        Assert.True(error.IsPinMismatch);
        Assert.Contains($"expected peer NodeId {wrong}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"presented NodeId {pair.ServerIdentity.NodeId}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_pinning_another_client_rejects_it_naming_expected_and_actual()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var wrong = NodeIdentity.Generate().NodeId;
        await using var pair = new LoopbackPair(IPAddress.Loopback, serverPinsClient: wrong);
        var failed = new TaskCompletionSource<QuicConnectionException>(TaskCreationOptions.RunContinuationsAsynchronously);
        pair.Server.ConnectionFailed += (_, e) => failed.TrySetResult(e.Error);

        // The client may finish its side of the handshake before the server checks its certificate; either
        // way its connection must end with the server's rejection.
        var clientOutcome = Task.Run(async () =>
        {
            var connection = await pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token);
            await connection.Closed.WaitAsync(timeout.Token);
        });
        var serverError = await failed.Task.WaitAsync(timeout.Token);
        var clientError = await Assert.ThrowsAsync<QuicConnectionException>(() => clientOutcome);

        Assert.True(serverError.IsPinMismatch);
        Assert.Contains($"expected peer NodeId {wrong}", serverError.Message, StringComparison.Ordinal);
        Assert.Contains($"presented NodeId {pair.ClientIdentity.NodeId}", serverError.Message, StringComparison.Ordinal);
        Assert.Contains("TLS alert", clientError.Message, StringComparison.Ordinal);
    }
}
