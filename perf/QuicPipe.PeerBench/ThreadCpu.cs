using System.Diagnostics;
using System.Globalization;

namespace QuicPipe.PeerBench;

/// <summary>
/// CPU time per thread of this process (/proc/self/task), so that nodes sharing the process can be told apart: each
/// node's QUIC endpoints run on loop threads of their own, named "quic ...", started when the node is.
/// </summary>
internal static class ThreadCpu
{
    // USER_HZ, the unit of /proc's utime and stime: 100 on the Linux targets this benchmark runs on.
    private const double TicksPerSecond = 100;

    /// <summary>The endpoint loop threads running now (thread ids).</summary>
    public static HashSet<int> LoopThreads()
    {
        var threads = new HashSet<int>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (int.TryParse(Path.GetFileName(task), CultureInfo.InvariantCulture, out var id) && ReadOrNull(Path.Combine(task, "comm"))?.StartsWith("quic ", StringComparison.Ordinal) == true)
            {
                threads.Add(id);
            }
        }

        return threads;
    }

    /// <summary>CPU seconds (user and system) the threads have used so far; a thread that has ended counts nothing.</summary>
    public static double Seconds(IEnumerable<int> threads)
    {
        double ticks = 0;
        foreach (var id in threads)
        {
            // Fields after the parenthesised name: state is the 3rd field of the line, utime and stime the 14th and 15th.
            if (ReadOrNull($"/proc/self/task/{id}/stat") is { } stat && stat.LastIndexOf(')') is var end and > 0)
            {
                var fields = stat[(end + 2)..].Split(' ');
                ticks += double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            }
        }

        return ticks / TicksPerSecond;
    }

    /// <summary>CPU seconds of the whole process so far.</summary>
    public static double ProcessSeconds()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
