using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

public sealed class KeygenCommandTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-keygen-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Keygen_writes_an_owner_only_identity_and_prints_its_NodeId()
    {
        var file = Path.Combine(_directory, "node.key");

        var (code, stdout, stderr) = RelayProcess.Run(Limit, "keygen", "--out", file);

        Assert.True(code == 0, stderr);
        var printed = stdout.Trim();
        Assert.Equal(NodeIdentity.LoadKeyFile(file).NodeId, NodeId.Parse(printed));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public void Keygen_never_overwrites_an_existing_identity()
    {
        var file = Path.Combine(_directory, "node.key");
        File.WriteAllText(file, "precious");

        var (code, stdout, stderr) = RelayProcess.Run(Limit, "keygen", "--out", file);

        Assert.Equal(2, code);
        Assert.Empty(stdout.Trim());
        Assert.Contains("already exists", stderr, StringComparison.Ordinal);
        Assert.Equal("precious", File.ReadAllText(file));
    }

    [Fact]
    public void A_file_that_is_not_an_identity_is_refused_with_a_clear_message()
    {
        var file = Path.Combine(_directory, "bad.key");
        File.WriteAllText(file, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var error = Assert.Throws<InvalidDataException>(() => NodeIdentity.LoadKeyFile(file));

        Assert.Contains("quicpipe keygen", error.Message, StringComparison.Ordinal);
    }
}
