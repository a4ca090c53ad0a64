using System.Globalization;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;

namespace QuicPipe.Dataplane;

/// <summary>
/// Reads the small files a person names on a command line (identity keys, configuration, offers): whatever the path
/// turns out to be, at most a bound is read. A directory or a device (<c>/dev/zero</c>, which never ends) is refused
/// before it is opened, and a file holding a secret is refused, as ssh refuses a private key, while others may read it.
/// </summary>
public static class SmallFile
{
    /// <summary>
    /// The bytes of <paramref name="path"/>, a regular file or a pipe of at most <paramref name="maxBytes"/>;
    /// <paramref name="what"/> says what it should hold ("a key file") in the error messages.
    /// </summary>
    /// <exception cref="InvalidDataException">A directory, a device, or too large: the message says which.</exception>
    /// <exception cref="IOException">The file does not exist or cannot be read (<see cref="FileNotFoundException"/>, ...).</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to read it.</exception>
    public static byte[] Read(string path, int maxBytes, string what) => ReadBounded(path, maxBytes, what, secret: false);

    /// <summary>
    /// As <see cref="Read"/>, for a file holding a secret: refused if others may read it, or, when it is ours (so we
    /// may chmod it), if its group may. A file of another owner readable by its group (root:quicpipe 0640, or a service
    /// manager's credential shared by ACL) is that owner's choice. The message says which chmod to run.
    /// </summary>
    public static byte[] ReadSecret(string path, int maxBytes, string what) => ReadBounded(path, maxBytes, what, secret: true);

    private static byte[] ReadBounded(string path, int maxBytes, string what, bool secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        var status = Status(path);
        var type = status.Mode & Statx.TypeMask;
        if (type == Statx.TypeDirectory)
        {
            throw new InvalidDataException($"{path}: is a directory, not {what}");
        }

        if (type != Statx.TypeRegular && type != Statx.TypeFifo)
        {
            throw new InvalidDataException($"{path}: not a regular file (a device?), so not {what}");
        }

        if (secret && TooOpen(status))
        {
            var mode = Convert.ToString(status.Mode & 0xfff, 8).PadLeft(4, '0');
            throw new InvalidDataException($"permissions {mode} for '{path}' are too open; run: chmod 600 {path}");
        }

        if (type == Statx.TypeRegular && status.Size > (ulong)maxBytes)
        {
            throw TooLarge(path, maxBytes, what);
        }

        // Bounded even for a regular file: it may grow between the look and the read, and a pipe has no size. The
        // buffer grows with what arrives, so a generous bound costs nothing for a small file.
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        using var content = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while (content.Length <= maxBytes && (read = file.Read(chunk, 0, (int)Math.Min(chunk.Length, maxBytes + 1L - content.Length))) > 0)
        {
            content.Write(chunk, 0, read);
        }

        return content.Length > maxBytes ? throw TooLarge(path, maxBytes, what) : content.ToArray();
    }

    private static bool TooOpen(in Statx status)
    {
        const int Others = 0x7;  // 0007
        const int Group = 0x38;  // 0070
        var ours = status.Uid == Libc.GetEuid();
        return (status.Mode & (ours ? Group | Others : Others)) != 0;
    }

    private static Statx Status(string path)
    {
        if (Libc.Statx(Libc.AtFdCwd, path, 0, Libc.StatxBasicStats, out var status) == 0)
        {
            return status;
        }

        var errno = Marshal.GetLastPInvokeError();
        var message = $"{path}: {Marshal.GetPInvokeErrorMessage(errno)}";
        throw errno switch
        {
            Errno.ENOENT => new FileNotFoundException($"{path}: no such file", path),
            Errno.EACCES or Errno.EPERM => new UnauthorizedAccessException(message),
            _ => new IOException(message),
        };
    }

    private static InvalidDataException TooLarge(string path, int maxBytes, string what) =>
        new($"{path}: larger than {maxBytes.ToString(CultureInfo.InvariantCulture)} bytes, too large for {what}");
}
