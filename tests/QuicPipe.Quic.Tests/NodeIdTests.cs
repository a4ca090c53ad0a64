using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class NodeIdTests
{
    [Fact]
    public void NodeId_is_lower_case_base32_of_the_sha256_of_the_spki()
    {
        var identity = NodeIdentity.Generate();
        using var certificate = X509Certificate2.CreateFromPem(identity.CertificatePem);
        var expected = SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo());

        Assert.Equal(expected, identity.NodeId.Bytes.ToArray());
        var text = identity.NodeId.ToString();
        Assert.Equal(52, text.Length);
        Assert.Matches("^[a-z2-7]{52}$", text);
        Assert.Equal(identity.NodeId, NodeId.Parse(text));
        Assert.Equal(identity.NodeId, NodeId.Parse(text.ToUpperInvariant()));
    }

    [Fact]
    public void Base32_matches_the_rfc_4648_vectors()
    {
        // RFC 4648 §10: BASE32("foobar") = "MZXW6YTBOI======"; we print lower case without padding.
        Assert.Equal("mzxw6ytboi", Internal.Base32.Encode("foobar"u8));
        Span<byte> decoded = stackalloc byte[6];
        Assert.True(Internal.Base32.TryDecode("mzxw6ytboi", decoded));
        Assert.Equal("foobar"u8.ToArray(), decoded.ToArray());
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-node-id")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1")]
    public void Malformed_text_is_not_a_NodeId(string text) => Assert.False(NodeId.TryParse(text, out _));

    [Fact]
    public void Identity_survives_a_save_and_load_as_pem()
    {
        var directory = Directory.CreateTempSubdirectory("quicpipe-id-");
        try
        {
            var identity = NodeIdentity.Generate();
            var cert = Path.Combine(directory.FullName, "node.crt");
            var key = Path.Combine(directory.FullName, "node.key");
            identity.Save(cert, key);

            var loaded = NodeIdentity.Load(cert, key);

            Assert.Equal(identity.NodeId, loaded.NodeId);
            Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(cert), StringComparison.Ordinal);
            Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(key), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
