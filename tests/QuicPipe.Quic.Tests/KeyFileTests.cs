using Xunit;

namespace QuicPipe.Quic.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class KeyFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-keyfile-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_key_file_from_SaveKeyFile_is_owner_only_and_loads()
    {
        var identity = NodeIdentity.Generate();
        var file = Path.Combine(_directory, "node.key");

        identity.SaveKeyFile(file);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(identity.NodeId, NodeIdentity.LoadKeyFile(file).NodeId);
    }

    [Fact]
    public void A_private_key_that_is_not_the_certificates_is_said_in_words()
    {
        var a = NodeIdentity.Generate();
        var b = NodeIdentity.Generate();
        var file = Write("mixed.key", a.PrivateKeyPem + "\n" + b.CertificatePem);

        var error = Assert.Throws<InvalidDataException>(() => NodeIdentity.LoadKeyFile(file));

        Assert.StartsWith($"{file}: its private key does not belong to its certificate", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_file_others_may_read_is_refused_with_the_chmod_to_run()
    {
        var file = Path.Combine(_directory, "open.key");
        NodeIdentity.Generate().SaveKeyFile(file);
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("644", 8));

        var error = Assert.Throws<InvalidDataException>(() => NodeIdentity.LoadKeyFile(file));

        Assert.Equal($"permissions 0644 for '{file}' are too open; run: chmod 600 {file}", error.Message);
    }

    [Fact]
    public void Dev_zero_and_a_large_file_are_refused_unread()
    {
        var large = Write("large.key", new string('A', NodeIdentity.MaxKeyFileBytes + 1));

        Assert.Contains("not a regular file", Assert.Throws<InvalidDataException>(() => NodeIdentity.LoadKeyFile("/dev/zero")).Message, StringComparison.Ordinal);
        Assert.Contains("too large for a key file", Assert.Throws<InvalidDataException>(() => NodeIdentity.LoadKeyFile(large)).Message, StringComparison.Ordinal);
    }

    private string Write(string name, string text)
    {
        var file = Path.Combine(_directory, name);
        File.WriteAllText(file, text);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return file;
    }
}
