using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>
/// A node's long-lived identity: an ECDSA P-256 key and a self-signed certificate for it, generated here (no
/// CA, no OpenSSL command line). Saved and loaded as one key file (both PEM blocks, owner-only readable) or as two
/// PEM files. Its <see cref="NodeId"/> is what peers pin.
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

    /// <summary>
    /// Writes the private key and the certificate as PEM into one new file, readable by its owner only. An
    /// existing file is never overwritten (an identity lost is a NodeId lost): <see cref="IOException"/>.
    /// </summary>
    public void SaveKeyFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var file = new StreamWriter(path, System.Text.Encoding.ASCII, options);
        file.Write(PrivateKeyPem.TrimEnd() + "\n");
        file.Write(CertificatePem.TrimEnd() + "\n");
    }

    /// <summary>Key files larger than this are refused unread: a real one (a P-256 key and its certificate) is under 1 KiB.</summary>
    public const int MaxKeyFileBytes = 64 * 1024;

    /// <summary>
    /// Loads a key file written by <see cref="SaveKeyFile"/> (or any file holding the key and its certificate in PEM).
    /// As ssh does with a private key, a file others may read (or its group, when it is ours) is refused, with the
    /// chmod that fixes it; so are directories, devices and files over <see cref="MaxKeyFileBytes"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">
    /// The file lacks the key or the certificate, they do not belong together, it is too open, too large or not a file.
    /// </exception>
    public static NodeIdentity LoadKeyFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = System.Text.Encoding.UTF8.GetString(SmallFile.ReadSecret(path, MaxKeyFileBytes, "a key file"));
        var certificate = PemBlock(text, "CERTIFICATE");
        var key = PemBlock(text, "PRIVATE KEY") ?? PemBlock(text, "EC PRIVATE KEY");
        if (certificate is null || key is null)
        {
            throw new InvalidDataException($"{path} is not a QuicPipe key file: it needs a PEM private key and its certificate (make one with 'quicpipe keygen --out FILE').");
        }

        try
        {
            return FromPem(certificate, key);
        }
        catch (ArgumentException e) when (e.ParamName == "privateKey")
        {
            // X509Certificate2.CreateFromPem's way of saying the key is not the certificate's ("(Parameter 'privateKey')").
            throw new InvalidDataException($"{path}: its private key does not belong to its certificate (the two PEM blocks come from different identities; make a new one with 'quicpipe keygen --out FILE').", e);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            var why = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : e.Message;
            throw new InvalidDataException($"{path}: the key and the certificate cannot be used together: {why}", e);
        }
    }

    private static string? PemBlock(string text, string label)
    {
        var begin = $"-----BEGIN {label}-----";
        var end = $"-----END {label}-----";
        var start = text.IndexOf(begin, StringComparison.Ordinal);
        var stop = start < 0 ? -1 : text.IndexOf(end, start, StringComparison.Ordinal);
        return stop < 0 ? null : text[start..(stop + end.Length)];
    }
}
