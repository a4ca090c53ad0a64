using System.Diagnostics.CodeAnalysis;

namespace QuicPipe.Relay.Fleet;

/// <summary>
/// Where a relay fleet's directory runs (<c>relay --directory URL</c>): <c>etcd://HOST:PORT</c>, optionally with a
/// key prefix as its path (<c>etcd://10.0.0.5:2379/edge-fleet</c>; default <see cref="DefaultPrefix"/>). Every relay of
/// one fleet names the same directory and prefix. <c>nats://</c> is a known scheme this build does not implement.
/// </summary>
public sealed record RelayDirectoryUrl(string Host, int Port, string Prefix)
{
    public const string DefaultPrefix = "/quicpipe";

    /// <summary>The schemes, as the help names them.</summary>
    public const string Schemes = "etcd://HOST:PORT[/PREFIX] (nats:// is not supported in this build)";

    /// <summary>The etcd endpoint, as its gRPC client dials it (plain HTTP/2).</summary>
    public Uri GrpcAddress => new($"http://{(Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host)}:{Port}");

    public override string ToString() => $"etcd://{(Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host)}:{Port}{Prefix}";

    /// <summary>Parses <paramref name="text"/>; false with a one-line reason when it is not a directory this build serves.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out RelayDirectoryUrl? url, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        url = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            error = $"'{text}' is not a directory URL; expected {Schemes}";
            return false;
        }

        if (uri.Scheme == "nats")
        {
            error = $"'{text}': nats:// directories are not supported in this build; use etcd://HOST:PORT";
            return false;
        }

        if (uri.Scheme != "etcd")
        {
            error = $"'{text}': unknown directory scheme '{uri.Scheme}://'; expected {Schemes}";
            return false;
        }

        if (uri.IsDefaultPort || uri.Port <= 0)
        {
            error = $"'{text}': give the etcd client port (etcd://HOST:PORT, usually 2379)";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            error = $"'{text}': a directory URL has no user, query or fragment";
            return false;
        }

        var prefix = uri.AbsolutePath.TrimEnd('/');
        url = new RelayDirectoryUrl(uri.Host.Trim('[', ']'), uri.Port, prefix.Length == 0 ? DefaultPrefix : prefix);
        error = string.Empty;
        return true;
    }
}
