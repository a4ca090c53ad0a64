using QuicPipe.Dataplane;

namespace QuicPipe.Relay;

/// <summary>
/// Reads a static routes file: one <c>CIDHEX HOST:PORT</c> per line; blank lines and text after
/// <c>#</c> are ignored. The whole file is checked before any of it is used, so a bad reload never
/// leaves the relay with half a table.
/// </summary>
public static class RouteFile
{
    /// <summary>Routes files larger than this are refused: the table is bounded, and so is what we read.</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;

    public static IReadOnlyList<StaticRoute> Load(string path, int cidLength)
    {
        ArgumentNullException.ThrowIfNull(path);
        string[] lines;
        try
        {
            // Bounded whatever the path is: a directory or a device (/dev/zero never ends) is refused by name.
            var text = System.Text.Encoding.UTF8.GetString(SmallFile.Read(path, (int)MaxFileBytes, "a routes file"));
            lines = text.Split('\n');
        }
        catch (FileNotFoundException e)
        {
            throw new RouteFileException($"{path}: no such file", e);
        }
        catch (InvalidDataException e)
        {
            throw new RouteFileException(e.Message, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RouteFileException($"{path}: cannot read: {e.Message}", e);
        }

        return Parse(lines, path, cidLength);
    }

    /// <summary>Parses the lines of a routes file; <paramref name="source"/> names it in error messages.</summary>
    public static IReadOnlyList<StaticRoute> Parse(IReadOnlyList<string> lines, string source, int cidLength)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var routes = new List<StaticRoute>();
        var seen = new Dictionary<ConnectionId, int>();
        for (var i = 0; i < lines.Count; i++)
        {
            var lineNumber = i + 1;
            var text = lines[i];
            var hash = text.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0)
            {
                text = text[..hash];
            }

            var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
            {
                continue;
            }

            if (fields.Length != 2)
            {
                throw Error(source, lineNumber, $"expected 'CIDHEX HOST:PORT', found {fields.Length} field(s)");
            }

            if (!ConnectionId.TryParseHex(fields[0], out var cid))
            {
                throw Error(source, lineNumber, $"'{fields[0]}' is not a connection ID in hex (an even number of hex digits, at most {ConnectionId.MaxLength * 2})");
            }

            if (cid.Length != cidLength)
            {
                throw Error(source, lineNumber, $"connection ID {cid} has {cid.Length} bytes, but the relay's CID length is {cidLength} (--cid-length)");
            }

            if (!PeerAddress.TryParse(fields[1], out var endpoint, out var addressError))
            {
                throw Error(source, lineNumber, addressError);
            }

            if (endpoint.Port == 0)
            {
                throw Error(source, lineNumber, $"port 0 in '{fields[1]}' cannot be sent to");
            }

            if (seen.TryGetValue(cid, out var firstLine))
            {
                throw Error(source, lineNumber, $"connection ID {cid} is already routed on line {firstLine}");
            }

            seen.Add(cid, lineNumber);
            routes.Add(new StaticRoute(cid, endpoint, lineNumber));
        }

        return routes;
    }

    private static RouteFileException Error(string source, int line, string message) => new($"{source}:{line}: {message}");
}
