using QuicPipe.Protocol;
using QuicPipe.Protocol.Relay;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>Clients that break the protocol lose their own connection; the service goes on serving the others.</summary>
public class ProtocolErrorTests
{
    [Fact]
    public async Task A_broken_frame_closes_that_connection_and_others_are_still_served()
    {
        await using var relay = new RelayControlFixture();
        var (bystander, _) = await relay.ConnectAsync();
        var connection = await ConnectRawAsync(relay);
        var stream = await connection.OpenBidirectionalStreamAsync(RelayControlFixture.Timeout());

        // A length prefix announcing more than 64 KiB.
        await stream.WriteAsync(new byte[] { 0xff, 0xff, 0xff, 0x0f }, cancellationToken: RelayControlFixture.Timeout());

        var closed = await Assert.ThrowsAnyAsync<Exception>(() => connection.Closed.WaitAsync(RelayControlFixture.Limit));
        Assert.Contains("65536", closed.Message, StringComparison.Ordinal);
        Assert.NotNull(await bystander.PingAsync(RelayControlFixture.Timeout()));
        Assert.Equal(1, relay.Service.Snapshot().ProtocolErrors);
    }

    [Fact]
    public async Task Malformed_messages_get_BAD_REQUEST_until_too_many_close_the_connection()
    {
        await using var relay = new RelayControlFixture();
        var connection = await ConnectRawAsync(relay);
        var stream = await connection.OpenBidirectionalStreamAsync(RelayControlFixture.Timeout());

        // A well-framed message that is not protobuf, then two that are but make no sense.
        await stream.WriteAsync(new byte[] { 3, 0x0a, 100, 0 }, cancellationToken: RelayControlFixture.Timeout());
        var first = await ControlFraming.ReadAsync(stream.Input, ServerMessage.Parser, RelayControlFixture.Timeout());
        await stream.WriteAsync(Frame(new ClientMessage { RequestId = 5 }), cancellationToken: RelayControlFixture.Timeout());
        var second = await ControlFraming.ReadAsync(stream.Input, ServerMessage.Parser, RelayControlFixture.Timeout());
        await stream.WriteAsync(Frame(new ClientMessage { RequestId = 0, Ping = new Ping() }), cancellationToken: RelayControlFixture.Timeout());

        Assert.Equal(ErrorCode.BadRequest, first!.Error.Code);
        Assert.Equal(ErrorCode.BadRequest, second!.Error.Code);
        Assert.Equal(5UL, second.RequestId);
        var closed = await Assert.ThrowsAnyAsync<Exception>(() => connection.Closed.WaitAsync(RelayControlFixture.Limit));
        Assert.Contains("too many malformed messages", closed.Message, StringComparison.Ordinal);
        Assert.Equal(3, relay.Service.Snapshot().ProtocolErrors);
    }

    [Fact]
    public async Task A_client_that_ends_its_stream_inside_a_message_is_closed()
    {
        await using var relay = new RelayControlFixture();
        var connection = await ConnectRawAsync(relay);
        var stream = await connection.OpenBidirectionalStreamAsync(RelayControlFixture.Timeout());

        await stream.WriteAsync(new byte[] { 10, 1, 2 }, endStream: true, RelayControlFixture.Timeout());

        var closed = await Assert.ThrowsAnyAsync<Exception>(() => connection.Closed.WaitAsync(RelayControlFixture.Limit));
        Assert.Contains("ended inside a message", closed.Message, StringComparison.Ordinal);
    }

    [RequiresGtlsClientFact]
    public async Task A_client_without_a_certificate_is_refused()
    {
        // ngtcp2's gtlsclient presents no certificate and offers ALPN h3: the service runs on an endpoint that takes h3.
        await using var relay = new RelayControlFixture(alpn: "h3");

        using var client = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(RequiresGtlsClientFactAttribute.GtlsClient)
        {
            ArgumentList = { "--quiet", "--timeout=3s", "127.0.0.1", relay.Address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            await RelayControlFixture.EventuallyAsync(() => relay.Service.Snapshot().RefusedWithoutCertificate == 1, "the certificate-less client refused");
            Assert.Equal(0, relay.Service.Snapshot().Sessions);
        }
        finally
        {
            if (!client.HasExited)
            {
                client.Kill();
            }

            await client.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static async Task<QuicConnection> ConnectRawAsync(RelayControlFixture relay)
    {
        var endpoint = relay.NewEndpoint(NodeIdentity.Generate());
        return await endpoint.ConnectAsync(relay.Address, new QuicClientConnectionOptions { ExpectedPeer = relay.Identity.NodeId, Alpn = RelayProtocol.Alpn }, RelayControlFixture.Timeout());
    }

    private static byte[] Frame(ClientMessage message)
    {
        var pipe = new System.IO.Pipelines.Pipe();
        ControlFraming.Write(pipe.Writer, message);
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out var result);
        var bytes = System.Buffers.BuffersExtensions.ToArray(result.Buffer);
        pipe.Reader.Complete();
        return bytes;
    }
}

/// <summary>A fact that is skipped, with the reason, where Debian's gtlsclient (a client without a certificate) is not installed.</summary>
internal sealed class RequiresGtlsClientFactAttribute : FactAttribute
{
    public const string GtlsClient = "/usr/bin/gtlsclient";

    public RequiresGtlsClientFactAttribute()
    {
        if (!File.Exists(GtlsClient))
        {
            Skip = $"{GtlsClient} is not installed (Debian package ngtcp2-client; scripts/setup.sh installs it).";
        }
    }
}
