using QuicPipe.Quic;

namespace QuicPipe.Relay;

/// <summary>
/// The operator's list of NodeIds allowed to use the relay's control service (<c>relay --peers FILE</c>), as TURN
/// servers require credentials: one NodeId per line, <c>#</c> starts a comment, blank lines are ignored. Read whole
/// at start and on <see cref="Reload"/>; a file with any error changes nothing. Any thread may ask
/// <see cref="Allows"/> while another reloads.
/// </summary>
public sealed class PeerAllowList
{
    /// <summary>Allow-list files larger than this are refused (a million NodeIds take about 53 MB).</summary>
    public const long MaxFileBytes = 64L * 1024 * 1024;

    private volatile HashSet<NodeId> _nodes;

    private PeerAllowList(string path, HashSet<NodeId> nodes)
    {
        Path = path;
        _nodes = nodes;
    }

    /// <summary>The file the list is read from.</summary>
    public string Path { get; }

    /// <summary>NodeIds on the list now.</summary>
    public int Count => _nodes.Count;

    public bool Allows(NodeId node) => _nodes.Contains(node);

    /// <summary>Reads <paramref name="path"/>; throws <see cref="PeerAllowListException"/> naming the file and line of the first error.</summary>
    public static PeerAllowList Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new PeerAllowList(path, Read(path));
    }

    /// <summary>
    /// Reads the file again and, if it is whole and correct, replaces the list; returns how many NodeIds it holds.
    /// On an error the old list stays and <see cref="PeerAllowListException"/> says what is wrong.
    /// </summary>
    public int Reload()
    {
        var nodes = Read(Path);
        _nodes = nodes;
        return nodes.Count;
    }

    /// <summary>Parses the lines of an allow-list; <paramref name="source"/> names it in error messages.</summary>
    public static HashSet<NodeId> Parse(IReadOnlyList<string> lines, string source)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var nodes = new HashSet<NodeId>();
        for (var i = 0; i < lines.Count; i++)
        {
            var text = lines[i];
            var hash = text.IndexOf('#', StringComparison.Ordinal);
            var entry = (hash >= 0 ? text[..hash] : text).Trim();
            if (entry.Length == 0)
            {
                continue;
            }

            if (!NodeId.TryParse(entry, out var node))
            {
                throw new PeerAllowListException($"{source}:{i + 1}: '{Shorten(entry)}' is not a NodeId (the base32 text 'quicpipe keygen' prints)");
            }

            nodes.Add(node);
        }

        return nodes;
    }

    private static HashSet<NodeId> Read(string path)
    {
        string[] lines;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new PeerAllowListException($"{path}: no such file");
            }

            if (info.Length > MaxFileBytes)
            {
                throw new PeerAllowListException($"{path}: {info.Length} bytes is larger than the {MaxFileBytes}-byte limit for an allow-list");
            }

            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PeerAllowListException($"{path}: cannot read: {e.Message}", e);
        }

        return Parse(lines, path);
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";
}

/// <summary>An allow-list file that cannot be used; the message names the file and, where it applies, the line.</summary>
public sealed class PeerAllowListException : Exception
{
    public PeerAllowListException()
    {
    }

    public PeerAllowListException(string message)
        : base(message)
    {
    }

    public PeerAllowListException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
