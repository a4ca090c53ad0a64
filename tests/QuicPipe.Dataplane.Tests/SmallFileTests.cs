using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
using Xunit;

namespace QuicPipe.Dataplane.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class SmallFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-smallfile-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Statx_mirrors_the_kernel_layout_and_reports_what_dotnet_sees()
    {
        var file = Write("sized", new byte[1234], UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        Assert.Equal(0, Libc.Statx(Libc.AtFdCwd, file, 0, Libc.StatxBasicStats, out var status));

        Assert.Equal(256, Unsafe.SizeOf<Statx>());
        Assert.Equal(1234UL, status.Size);
        Assert.Equal(Statx.TypeRegular, status.Mode & Statx.TypeMask);
        Assert.Equal((int)File.GetUnixFileMode(file), status.Mode & 0xfff);
        Assert.Equal(Libc.GetEuid(), status.Uid);
    }

    [Fact]
    public void A_small_file_is_read_whole()
    {
        var file = Write("small", "hello\n"u8.ToArray(), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Assert.Equal("hello\n"u8.ToArray(), SmallFile.Read(file, 64, "a test file"));
    }

    [Fact]
    public void A_file_over_the_bound_is_refused_naming_the_bound()
    {
        var file = Write("big", new byte[65], UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var error = Assert.Throws<InvalidDataException>(() => SmallFile.Read(file, 64, "a test file"));

        Assert.Equal($"{file}: larger than 64 bytes, too large for a test file", error.Message);
    }

    [Fact]
    public void A_device_that_never_ends_is_refused_at_once()
    {
        var error = Assert.Throws<InvalidDataException>(() => SmallFile.Read("/dev/zero", 64 * 1024, "a key file"));

        Assert.Equal("/dev/zero: not a regular file (a device?), so not a key file", error.Message);
    }

    [Fact]
    public void A_directory_is_refused_by_name()
    {
        var error = Assert.Throws<InvalidDataException>(() => SmallFile.Read(_directory, 64, "a routes file"));

        Assert.Equal($"{_directory}: is a directory, not a routes file", error.Message);
    }

    [Fact]
    public void A_missing_file_is_FileNotFound()
    {
        var missing = Path.Combine(_directory, "missing");

        var error = Assert.Throws<FileNotFoundException>(() => SmallFile.Read(missing, 64, "a test file"));

        Assert.Equal($"{missing}: no such file", error.Message);
    }

    [Fact]
    public async Task A_pipe_that_goes_on_is_read_only_to_the_bound()
    {
        var fifo = Path.Combine(_directory, "fifo");
        Assert.Equal(0, MkFifo(fifo, Convert.ToInt32("600", 8)));

        // A writer that would go on for 10 MB: the reader stops after the bound and says why.
        var writer = Task.Run(() =>
        {
            try
            {
                using var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                var chunk = new byte[4096];
                for (var i = 0; i < 2560; i++)
                {
                    stream.Write(chunk);
                }
            }
            catch (IOException)
            {
                // The reader closed the pipe (EPIPE): expected.
            }
        });

        var error = Assert.Throws<InvalidDataException>(() => SmallFile.Read(fifo, 64 * 1024, "a key file"));

        Assert.Contains("larger than 65536 bytes", error.Message, StringComparison.Ordinal);
        await writer.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("644")]
    [InlineData("640")]
    [InlineData("604")]
    [InlineData("660")]
    public void A_secret_of_ours_that_group_or_others_may_read_is_refused_with_the_chmod_to_run(string mode)
    {
        var file = Write("id.key", "secret"u8.ToArray(), (UnixFileMode)Convert.ToInt32(mode, 8));

        var error = Assert.Throws<InvalidDataException>(() => SmallFile.ReadSecret(file, 64, "a key file"));

        Assert.Equal($"permissions 0{mode} for '{file}' are too open; run: chmod 600 {file}", error.Message);
    }

    [Theory]
    [InlineData("600")]
    [InlineData("400")]
    public void A_secret_only_its_owner_may_read_is_read(string mode)
    {
        var file = Write("id.key", "secret"u8.ToArray(), (UnixFileMode)Convert.ToInt32(mode, 8));

        Assert.Equal("secret"u8.ToArray(), SmallFile.ReadSecret(file, 64, "a key file"));
    }

    [Fact]
    public void A_secret_of_another_owner_is_refused_only_if_others_may_read_it()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            // Giving a file away needs root (CI runs as root).
            return;
        }

        // root:group 0640 for a service whose group may read it (or a credential shared by ACL, whose mask shows
        // as group bits) is the owner's choice; 0644 lets everyone read it.
        var shared = Write("shared.key", "secret"u8.ToArray(), (UnixFileMode)Convert.ToInt32("640", 8));
        var open = Write("open.key", "secret"u8.ToArray(), (UnixFileMode)Convert.ToInt32("644", 8));
        Assert.Equal(0, Chown(shared, 65534, 65534));
        Assert.Equal(0, Chown(open, 65534, 65534));

        Assert.Equal("secret"u8.ToArray(), SmallFile.ReadSecret(shared, 64, "a key file"));
        Assert.Throws<InvalidDataException>(() => SmallFile.ReadSecret(open, 64, "a key file"));
    }

    private string Write(string name, byte[] content, UnixFileMode mode)
    {
        var file = Path.Combine(_directory, name);
        File.WriteAllBytes(file, content);
        File.SetUnixFileMode(file, mode);
        return file;
    }

    // int mkfifo(const char *pathname, mode_t mode);
    [LibraryImport("libc.so.6", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, int mode);

    // int chown(const char *pathname, uid_t owner, gid_t group);
    [LibraryImport("libc.so.6", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, uint owner, uint group);
}
