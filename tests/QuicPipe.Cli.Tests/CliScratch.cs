namespace QuicPipe.Cli.Tests;

/// <summary>
/// What a CLI test class owns: a scratch directory (key files, payloads) and the processes it started. Dispose
/// stops the processes, then removes the directory.
/// </summary>
internal sealed class CliScratch(string prefix) : IDisposable
{
    private readonly List<IDisposable> _processes = [];

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>Stopped on Dispose.</summary>
    public T Own<T>(T process)
        where T : IDisposable
    {
        _processes.Add(process);
        return process;
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
