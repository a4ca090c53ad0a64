using System.Diagnostics;
using System.Globalization;
using System.Net;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>ngtcp2's own example client (Debian package ngtcp2-client) against our server, on loopback.</summary>
public class GtlsClientInteropTests
{
    internal const string GtlsClient = "/usr/bin/gtlsclient";

    [RequiresGtlsClientFact]
    public async Task Gtlsclient_completes_a_handshake_with_our_server()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));

        // gtlsclient has no NodeId (nor, by default, a client certificate): the server allows any client.
        var serverIdentity = NodeIdentity.Generate();
        await using var server = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions
        {
            Identity = serverIdentity,
            AcceptIncoming = true,
            AllowAnyClient = true,
            ServerAlpn = "h3",
        });
        var failures = new List<string>();
        server.ConnectionFailed += (_, e) => failures.Add(e.Error.Message);
        var accept = server.AcceptAsync(timeout.Token).AsTask();

        using var client = Process.Start(new ProcessStartInfo(GtlsClient)
        {
            ArgumentList = { "--quiet", "--exit-on-first-stream-close", "--timeout=5s", "127.0.0.1", server.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = client.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = client.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            var connection = await accept.WaitAsync(timeout.Token);

            Assert.Equal("h3", connection.NegotiatedAlpn);
            Assert.Null(connection.RemoteNodeId);
            Assert.Empty(failures);

            // An HTTP/3 client opens its control and QPACK streams right after the handshake: data flows.
            var control = await connection.AcceptStreamAsync(timeout.Token);
            var settings = await control.Input.ReadAtLeastAsync(1, timeout.Token);
            Assert.True(settings.Buffer.Length > 0);
            await connection.CloseAsync(0, timeout.Token);
        }
        finally
        {
            if (!client.HasExited)
            {
                client.Kill();
            }

            await client.WaitForExitAsync(CancellationToken.None);
            _ = await output;
            _ = await errors;
        }
    }
}

/// <summary>A fact that is skipped, with the reason, where Debian's gtlsclient is not installed.</summary>
internal sealed class RequiresGtlsClientFactAttribute : FactAttribute
{
    public RequiresGtlsClientFactAttribute()
    {
        if (!File.Exists(GtlsClientInteropTests.GtlsClient))
        {
            Skip = $"{GtlsClientInteropTests.GtlsClient} is not installed (Debian package ngtcp2-client; scripts/setup.sh installs it).";
        }
    }
}
