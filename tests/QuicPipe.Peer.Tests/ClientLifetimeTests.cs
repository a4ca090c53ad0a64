using System.Net;
using QuicPipe.Protocol;
using QuicPipe.Protocol.Relay;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>Requests end (never hang) when the connection ends, and honour cancellation.</summary>
public class ClientLifetimeTests
{
    [Fact]
    public async Task When_the_relay_goes_away_requests_fail_with_ConnectionLost_and_Closed_completes()
    {
        await using var relay = new RelayControlFixture();
        var (client, _) = await relay.ConnectAsync();

        await relay.StopServiceAsync();
        await client.Closed.WaitAsync(RelayControlFixture.Limit);

        var error = await Assert.ThrowsAsync<RelayControlException>(() => client.PingAsync(RelayControlFixture.Timeout()));
        Assert.Equal(RelayErrorCode.ConnectionLost, error.Code);
        Assert.Contains("shutting down", error.Message, StringComparison.Ordinal);
        Assert.Equal(RelayProtocol.CloseShuttingDown, client.CloseErrorCode);
        Assert.False(await client.Signals.WaitToReadAsync(RelayControlFixture.Timeout()));
    }

    [Fact]
    public async Task A_request_the_relay_never_answers_is_cancelled_by_its_token_and_failed_by_the_connection_end()
    {
        await using var silent = new SilentRelay();
        await using var client = await silent.ConnectAsync();

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.RefreshAsync(cancel.Token));

        var pending = client.RefreshAsync(RelayControlFixture.Timeout());
        await Task.Delay(100);
        Assert.False(pending.IsCompleted);
        await silent.CloseAsync();

        var error = await Assert.ThrowsAsync<RelayControlException>(() => pending.WaitAsync(RelayControlFixture.Limit));
        Assert.Equal(RelayErrorCode.ConnectionLost, error.Code);
        await client.Closed.WaitAsync(RelayControlFixture.Limit);
    }

    [Fact]
    public async Task Connecting_to_a_relay_with_another_NodeId_fails()
    {
        await using var relay = new RelayControlFixture();
        var endpoint = relay.NewEndpoint(NodeIdentity.Generate());

        await Assert.ThrowsAsync<QuicConnectionException>(() =>
            RelayControlClient.ConnectAsync(endpoint, relay.Address, NodeIdentity.Generate().NodeId, RelayControlFixture.Timeout()));
    }

    [Fact]
    public async Task Trust_on_first_use_reports_whom_it_reached()
    {
        await using var relay = new RelayControlFixture();
        var endpoint = relay.NewEndpoint(NodeIdentity.Generate());

        await using var client = await RelayControlClient.ConnectAsync(endpoint, relay.Address, expectedRelay: null, RelayControlFixture.Timeout());

        Assert.Equal(relay.Identity.NodeId, client.RelayNodeId);
    }

    /// <summary>A relay that answers the client's first Ping (so it connects) and nothing after.</summary>
    private sealed class SilentRelay : IAsyncDisposable
    {
        private readonly QuicEndpoint _server;
        private readonly QuicEndpoint _client;
        private readonly NodeIdentity _identity = NodeIdentity.Generate();
        private QuicConnection? _connection;

        public SilentRelay()
        {
            _server = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = _identity, AcceptIncoming = true, AllowAnyClient = true, ServerAlpn = RelayProtocol.Alpn });
            _client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });
        }

        public async Task<RelayControlClient> ConnectAsync()
        {
            var serve = ServeFirstPingAsync();
            var client = await RelayControlClient.ConnectAsync(_client, _server.LocalEndPoint, _identity.NodeId, RelayControlFixture.Timeout());
            await serve;
            return client;
        }

        public Task CloseAsync() => _connection!.CloseAsync(0x99, "silent relay closing", CancellationToken.None);

        public async ValueTask DisposeAsync()
        {
            await _client.DisposeAsync();
            await _server.DisposeAsync();
        }

        private async Task ServeFirstPingAsync()
        {
            _connection = await _server.AcceptAsync(RelayControlFixture.Timeout());
            var stream = await _connection.AcceptStreamAsync(RelayControlFixture.Timeout());
            var ping = await ControlFraming.ReadAsync(stream.Input, ClientMessage.Parser, RelayControlFixture.Timeout());
            var context = stream.AsConnectionContext();
            await ControlFraming.WriteAsync(context.Transport.Output, new ServerMessage { RequestId = ping!.RequestId, Pong = new Pong { ObservedAddress = "127.0.0.1:1" } }, RelayControlFixture.Timeout());
        }
    }
}
