using System.Diagnostics;

namespace QuicPipe.Lab;

/// <summary>Runs a command to completion with a deadline, capturing both output streams.</summary>
internal static class LabCommand
{
    public static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <exception cref="TimeoutException">The command was still running at the deadline; it was killed.</exception>
    public static LabResult Run(string fileName, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = StartInfo(fileName, args);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{Describe(fileName, info.ArgumentList)} did not finish within {timeout.TotalSeconds} s");
        }

        process.WaitForExit();
        return new LabResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    public static string Describe(string fileName, IEnumerable<string> args) => string.Join(' ', args.Prepend(fileName));
}
