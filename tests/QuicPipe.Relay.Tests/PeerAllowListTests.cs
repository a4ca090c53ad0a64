using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Relay.Tests;

public sealed class PeerAllowListTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-allow-").FullName;

    [Fact]
    public void Reads_one_NodeId_per_line_with_comments_and_blank_lines()
    {
        var a = NodeIdentity.Generate().NodeId;
        var b = NodeIdentity.Generate().NodeId;
        var path = Write("# operators' peers\n\n" + a + "   # alice\n  " + b + "\n");

        var list = PeerAllowList.Load(path);

        Assert.Equal(2, list.Count);
        Assert.True(list.Allows(a));
        Assert.True(list.Allows(b));
        Assert.False(list.Allows(NodeIdentity.Generate().NodeId));
    }

    [Fact]
    public void A_bad_line_is_named_with_its_file_and_number()
    {
        var path = Write(NodeIdentity.Generate().NodeId + "\nnot-a-node-id\n");

        var error = Assert.Throws<PeerAllowListException>(() => PeerAllowList.Load(path));

        Assert.Equal($"{path}:2: 'not-a-node-id' is not a NodeId (the base32 text 'quicpipe keygen' prints)", error.Message);
    }

    [Fact]
    public void A_missing_file_says_so()
    {
        var path = Path.Combine(_directory, "absent");

        var error = Assert.Throws<PeerAllowListException>(() => PeerAllowList.Load(path));

        Assert.Equal($"{path}: no such file", error.Message);
    }

    [Fact]
    public void Reload_replaces_the_list_and_a_bad_file_keeps_the_old_one()
    {
        var a = NodeIdentity.Generate().NodeId;
        var b = NodeIdentity.Generate().NodeId;
        var path = Write(a + "\n");
        var list = PeerAllowList.Load(path);

        File.WriteAllText(path, b + "\n");
        Assert.Equal(1, list.Reload());
        Assert.False(list.Allows(a));
        Assert.True(list.Allows(b));

        File.WriteAllText(path, a + "\ngarbage\n");
        Assert.Throws<PeerAllowListException>(() => list.Reload());
        Assert.True(list.Allows(b));
        Assert.False(list.Allows(a));
    }

    private string Write(string text)
    {
        var path = Path.Combine(_directory, "peers");
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
