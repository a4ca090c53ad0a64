using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using QuicPipe.Quic;
using QuicPipe.Xdp;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// <c>quicpipe --version</c>: QuicPipe's version, then the native libraries it runs on, one <c>NAME: VERSION</c> line
/// each, as the libraries loaded in this process report themselves: what a bug report needs, and what a system
/// upgrade changes without a rebuild. A library that cannot be loaded is "not found", never a failure of the command.
/// </summary>
internal sealed class VersionAction : SynchronousCommandLineAction
{
    // As System.CommandLine's own version action: --version answers whatever else the command line lacks.
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        var output = parseResult.InvocationConfiguration.Output;
        var version = typeof(VersionAction).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        output.WriteLine($"quicpipe {version}");
        output.WriteLine($"ngtcp2: {Loaded(() => QuicLibraryVersions.Ngtcp2)}");
        output.WriteLine($"GnuTLS: {Loaded(() => QuicLibraryVersions.GnuTls)}");
        output.WriteLine($"libbpf: {LibBpfVersion.Find() ?? "not found"}");
        return 0;
    }

    // ngtcp2 and GnuTLS come through the QUIC shim: if it or they are missing, that is what --version should say.
    private static string Loaded(Func<string> version)
    {
        try
        {
            return version();
        }
        catch (DllNotFoundException)
        {
            return "not found";
        }
    }
}
