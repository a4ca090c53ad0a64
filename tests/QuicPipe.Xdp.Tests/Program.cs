namespace QuicPipe.Xdp.Tests;

/// <summary>
/// Entry point for the crash test's child process: <c>hold-attachment IFACE</c> loads the program,
/// attaches it natively, says so on stdout and waits to be killed. The test host never calls this.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "hold-attachment")
        {
            using var program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 1024, MissBufferBytes = 4096 });
            using var attachment = program.Attach(args[1], XdpAttachMode.Native, allowGenericFallback: true);
            Console.WriteLine($"attached {attachment.Mode}");
            Console.Out.Flush();
            Thread.Sleep(TimeSpan.FromSeconds(60)); // the test kills us long before this
            return 0;
        }

        Console.Error.WriteLine("usage: QuicPipe.Xdp.Tests hold-attachment IFACE");
        return 2;
    }
}
