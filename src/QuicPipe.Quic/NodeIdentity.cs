using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace QuicPipe.Quic;

/// <summary>
/// A node's long-lived identity: an ECDSA P-256 key and a self-signed certificate for it, generated here (no
/// CA, no OpenSSL command line). Saved and loaded as two PEM files. Its <see cref="NodeId"/> is what peers pin.
/// </summary>
public sealed class NodeIdentity
{
    private NodeIdentity(string certificatePem, string privateKeyPem, NodeId nodeId)
    {
        CertificatePem = certificatePem;
        PrivateKeyPem = privateKeyPem;
        NodeId = nodeId;
    }

    /// <summary>The self-signed certificate, PEM ("CERTIFICATE").</summary>
    public string CertificatePem { get; }

    /// <summary>The private key, unencrypted PKCS#8 PEM ("PRIVATE KEY"). Keep it secret.</summary>
    public string PrivateKeyPem { get; }

    public NodeId NodeId { get; }

    /// <summary>Generates a new key and a self-signed certificate valid for <paramref name="validity"/> (default 10 years).</summary>
    public static NodeIdentity Generate(TimeSpan? validity = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=quicpipe-node", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? TimeSpan.FromDays(3650)));
        return FromPem(certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Builds an identity from PEM text; checks that the key belongs to the certificate.</summary>
    public static NodeIdentity FromPem(string certificatePem, string privateKeyPem)
    {
        ArgumentNullException.ThrowIfNull(certificatePem);
        ArgumentNullException.ThrowIfNull(privateKeyPem);
        using var certificate = X509Certificate2.CreateFromPem(certificatePem, privateKeyPem);
        return new NodeIdentity(certificatePem, privateKeyPem, NodeId.FromCertificate(certificate));
    }

    /// <summary>Loads an identity saved by <see cref="Save"/>.</summary>
    public static NodeIdentity Load(string certificatePath, string privateKeyPath) =>
        FromPem(File.ReadAllText(certificatePath), File.ReadAllText(privateKeyPath));

    /// <summary>Writes the certificate and (owner-only readable) private key as PEM files.</summary>
    public void Save(string certificatePath, string privateKeyPath)
    {
        File.WriteAllText(certificatePath, CertificatePem);
        File.WriteAllText(privateKeyPath, string.Empty);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(privateKeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(privateKeyPath, PrivateKeyPem);
    }
}
