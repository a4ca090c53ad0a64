using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>Each congestion controller the endpoint offers is the one its connections run, and carries a transfer intact.</summary>
public class CongestionControlTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public void Endpoints_run_CUBIC_unless_told_otherwise() =>
        Assert.Equal(QuicCongestionControl.Cubic, new QuicEndpointOptions().CongestionControl);

    [Theory]
    [InlineData(QuicCongestionControl.Cubic)]
    [InlineData(QuicCongestionControl.Bbr2)]
    public async Task The_chosen_controller_runs_both_ends_and_an_8_MiB_transfer_arrives_intact(QuicCongestionControl controller)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.CongestionControl = controller, client: o => o.CongestionControl = controller);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var writing = StreamTransfer.WriteAllAsync(stream, payload, 64 * 1024, timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await writing;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
        Assert.Equal(controller, (await client.GetStatsAsync(timeout.Token)).CongestionControl);
        Assert.Equal(controller, (await server.GetStatsAsync(timeout.Token)).CongestionControl);
    }

    [Fact]
    public void An_undefined_controller_is_refused_at_bind()
    {
        var options = new QuicEndpointOptions { Identity = NodeIdentity.Generate(), CongestionControl = (QuicCongestionControl)7 };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), options));
        Assert.Equal(nameof(QuicEndpointOptions.CongestionControl), error.ParamName);
    }
}
