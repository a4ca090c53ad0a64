using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
}
