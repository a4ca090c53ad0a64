using System.Diagnostics;

namespace QuicPipe.Cli.Tests;

/// <summary>Runs the repository's perf/ scripts from a test: where they are, free ports for them, and a bounded run.</summary>
internal static class PerfScript
{
    /// <summary>The path of perf/<paramref name="name"/> in the repository these tests were built from.</summary>
    public static string PathOf(string name)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var script = Path.Combine(directory.FullName, "perf", name);
            if (File.Exists(script))
            {
                return script;
            }
        }

        throw new InvalidOperationException($"no perf/{name} above {AppContext.BaseDirectory}");
    }

    /// <summary>A UDP port P with P+1 free too: a script's forwarder and sink.</summary>
    public static int FreePortPair()
    {
        while (true)
        {
            var port = CliTestKit.FreeUdpPort();
            if (port < 65535 && IsFreeUdp(port + 1))
            {
                return port;
            }
        }
    }

    private static bool IsFreeUdp(int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>Runs a program to its end (killed past <paramref name="limit"/>); its exit code and stdout then stderr.</summary>
    public static (int ExitCode, string Output) Run(TimeSpan limit, string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, $"killed after {limit.TotalSeconds} s\n{stdout.Result}\n{stderr.Result}");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
