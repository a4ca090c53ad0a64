using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// What <c>--help</c> adds to System.CommandLine's own: one example invocation per command, after the options.
/// (Duration defaults print as people write them through <see cref="Duration"/>.)
/// </summary>
internal static class CliHelp
{
    /// <summary>Serves <paramref name="root"/> and every command under it; <paramref name="examples"/> maps a command to its example line.</summary>
    public static void AddExamples(RootCommand root, IReadOnlyDictionary<Command, string> examples)
    {
        // The help option is recursive: the root's one option (and its action) serves every command's --help. System.CommandLine
        // 2.0 keeps its help layout internal, so the example follows the standard help rather than being one of its sections.
        var option = root.Options.OfType<HelpOption>().Single();
        option.Action = new HelpWithExample((HelpAction)option.Action!, examples);
    }

    private sealed class HelpWithExample(HelpAction help, IReadOnlyDictionary<Command, string> examples) : SynchronousCommandLineAction
    {
        // As the help action it wraps: --help is an answer even when required options are missing (exit 0, not 2).
        public override bool ClearsParseErrors => help.ClearsParseErrors;

        public override int Invoke(ParseResult parseResult)
        {
            var exitCode = help.Invoke(parseResult);
            if (examples.TryGetValue(parseResult.CommandResult.Command, out var example))
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Example:");
                output.WriteLine($"  {example}");
                output.WriteLine();
            }

            return exitCode;
        }
    }
}
