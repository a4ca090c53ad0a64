using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Tests;

/// <summary>What the CLI tests share: how to start quicpipe, free ports, identity files.</summary>
internal static class CliTestKit
{
    /// <summary>The built quicpipe.dll under dotnet, with every standard stream redirected.</summary>
    /// <summary>
    /// quicpipe with <paramref name="args"/>; inside network namespace <paramref name="netns"/> if given (through
    /// <c>ip netns exec</c>, which execs dotnet: the process's pid is quicpipe's own).
    /// </summary>
    public static ProcessStartInfo QuicpipeStartInfo(string[] args, string? netns = null)
    {
        var start = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (netns is not null)
        {
            foreach (var arg in new[] { "netns", "exec", netns, "dotnet" })
            {
                start.ArgumentList.Add(arg);
            }
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "quicpipe.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public static int FreeTcpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>The key file <paramref name="name"/>.key in <paramref name="directory"/> (made on first use) and its NodeId.</summary>
    public static (string KeyFile, string NodeId) Identity(string directory, string name)
    {
        var file = Path.Combine(directory, name + ".key");
        if (!File.Exists(file))
        {
            NodeIdentity.Generate().SaveKeyFile(file);
        }

        return (file, NodeIdentity.LoadKeyFile(file).NodeId.ToString());
    }

    /// <summary>Writes <paramref name="total"/> deterministic pseudo-random bytes, closes the stream, returns their SHA-256.</summary>
    public static async Task<byte[]> WriteRandomAsync(Stream stdin, long total, int seed)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await WriteChunkAsync(stdin, hash, total, seed);
        stdin.Close();
        return hash.GetCurrentHash();
    }

    /// <summary>Writes <paramref name="total"/> deterministic pseudo-random bytes and adds them to <paramref name="hash"/>; the stream stays open.</summary>
    public static async Task WriteChunkAsync(Stream stdin, IncrementalHash hash, long total, int seed)
    {
        var random = new Random(seed);
        var buffer = new byte[256 * 1024];
        for (long written = 0; written < total; written += buffer.Length)
        {
            var length = (int)Math.Min(buffer.Length, total - written);
            random.NextBytes(buffer.AsSpan(0, length));
            hash.AppendData(buffer, 0, length);
            await stdin.WriteAsync(buffer.AsMemory(0, length));
        }

        await stdin.FlushAsync();
    }
}
