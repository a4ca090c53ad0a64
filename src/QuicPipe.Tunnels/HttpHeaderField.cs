namespace QuicPipe.Tunnels;

/// <summary>One field line of an HTTP/1.x head: its name as sent, and its value without surrounding whitespace.</summary>
public readonly record struct HttpHeaderField(string Name, string Value)
{
    public bool Is(string name) => Name.Equals(name, StringComparison.OrdinalIgnoreCase);
}
