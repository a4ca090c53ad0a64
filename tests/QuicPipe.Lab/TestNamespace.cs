using System.Runtime.ExceptionServices;
using System.Text.Json;

namespace QuicPipe.Lab;

/// <summary>
/// A network namespace made for one test, its loopback up: what the test creates in it (a TUN device, made from a
/// thread that joined it; a process run with <c>ip netns exec</c>) never touches the host's links, addresses and
/// routes. Dispose deletes the namespace and whatever is left in it.
/// </summary>
public sealed class TestNamespace : IDisposable
{
    /// <param name="prefix">Starts the name, so a leftover says which tests made it.</param>
    public TestNamespace(string prefix)
    {
        Name = $"{prefix}-{Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()))}";
        NetworkLab.Ip("netns", "add", Name);
        try
        {
            Ip("link", "set", "lo", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    /// <summary>Runs <paramref name="action"/> on a thread inside the namespace; its exception comes back unwrapped.</summary>
    public T Run<T>(Func<T> action)
    {
        try
        {
            return NetworkLab.InNamespace(Name, action);
        }
        catch (InvalidOperationException e) when (e.InnerException is { } inner)
        {
            ExceptionDispatchInfo.Throw(inner);
            throw;
        }
    }

    public void Run(Action action) => Run(() =>
    {
        action();
        return 0;
    });

    /// <summary><c>ip -n NAMESPACE ARGS</c>; throws when ip fails.</summary>
    public string Ip(params string[] args) => NetworkLab.Ip(["-n", Name, .. args]);

    /// <summary><see cref="Ip"/>, with failure as a result: (false, ip's message).</summary>
    public (bool Success, string Output) TryIp(params string[] args)
    {
        try
        {
            return (true, Ip(args));
        }
        catch (InvalidOperationException e)
        {
            return (false, e.Message);
        }
    }

    /// <summary><c>ip -j -n NAMESPACE ARGS</c>, parsed.</summary>
    public JsonElement IpJson(params string[] args)
    {
        using var document = JsonDocument.Parse(NetworkLab.Ip(["-j", "-n", Name, .. args]));
        return document.RootElement.Clone();
    }

    /// <summary>The names of the namespace's links.</summary>
    public IReadOnlyList<string> LinkNames() =>
        [.. IpJson("link", "show").EnumerateArray().Select(link => link.GetProperty("ifname").GetString()!)];

    public void Dispose()
    {
        try
        {
            NetworkLab.Ip("netns", "del", Name);
        }
        catch (InvalidOperationException)
        {
            // never created, or already gone
        }
    }
}
