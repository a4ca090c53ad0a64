using System.Diagnostics;
using System.Globalization;

/// <summary>
/// The process's CPU time and its threads' context switches so far: per-MiB costs of a transfer that a loaded
/// machine distorts far less than its MiB/s. Context switches are summed over the threads alive when sampled
/// (/proc/self/task/*/status), so a thread that ends between two samples takes its count with it.
/// </summary>
internal readonly record struct ProcessCpu(double Milliseconds, long ContextSwitches)
{
    public static ProcessCpu Sample()
    {
        using var self = Process.GetCurrentProcess();
        long switches = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        switches += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }

        return new ProcessCpu(self.TotalProcessorTime.TotalMilliseconds, switches);
    }

    public static ProcessCpu operator -(ProcessCpu end, ProcessCpu start) =>
        new(end.Milliseconds - start.Milliseconds, end.ContextSwitches - start.ContextSwitches);
}
