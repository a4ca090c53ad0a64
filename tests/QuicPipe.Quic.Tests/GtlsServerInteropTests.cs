using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>Our client against ngtcp2's own example server (Debian package ngtcp2-server), on loopback.</summary>
public class GtlsServerInteropTests
{
    internal const string GtlsServer = "/usr/sbin/gtlsserver";

    [RequiresGtlsServerFact]
    public async Task Our_client_completes_a_handshake_with_gtlsserver_and_pins_its_certificate()
    {
        var directory = Directory.CreateTempSubdirectory("quicpipe-gtls-");
        try
        {
            // gtlsserver gets our kind of identity, so the client can pin it like any peer.
            var serverIdentity = NodeIdentity.Generate();
            var cert = Path.Combine(directory.FullName, "server.crt");
            var key = Path.Combine(directory.FullName, "server.key");
            serverIdentity.Save(cert, key);
            var port = FreeUdpPort();

            using var server = Process.Start(new ProcessStartInfo(GtlsServer)
            {
                ArgumentList = { "--quiet", "--timeout=10s", "-d", directory.FullName, "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), key, cert },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = server.StandardOutput.ReadToEndAsync();
            var errors = server.StandardError.ReadToEndAsync();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });

                // If gtlsserver is not listening yet, the Initial is retransmitted until it is.
                var connection = await client.ConnectAsync(
                    new IPEndPoint(IPAddress.Loopback, port),
                    new QuicClientConnectionOptions { ExpectedPeer = serverIdentity.NodeId, Alpn = "h3" },
                    timeout.Token);

                Assert.Equal(serverIdentity.NodeId, connection.RemoteNodeId);
                Assert.Equal("h3", connection.NegotiatedAlpn);
                await connection.CloseAsync(0, timeout.Token);
            }
            finally
            {
                server.Kill();
                await server.WaitForExitAsync();
                _ = await output;
                _ = await errors;
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static int FreeUdpPort()
    {
        using var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
    }
}

/// <summary>A fact that is skipped, with the reason, where Debian's gtlsserver is not installed.</summary>
internal sealed class RequiresGtlsServerFactAttribute : FactAttribute
{
    public RequiresGtlsServerFactAttribute()
    {
        if (!File.Exists(GtlsServerInteropTests.GtlsServer))
        {
            Skip = $"{GtlsServerInteropTests.GtlsServer} is not installed (Debian package ngtcp2-server; scripts/setup.sh installs it).";
        }
    }
}
