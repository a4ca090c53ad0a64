using QuicPipe.Cli;
using QuicPipe.Cli.Internal;

// --config FILE and QUICPIPE_<COMMAND>__<KEY> variables become flags before the parse (ConfigDefaults); a bad one is
// one line and exit 2, as a bad flag.
var parse = ConfigDefaults.Parse(QuicpipeCommand.Create(), args, out var configError);
if (parse is null)
{
    await Console.Error.WriteLineAsync(configError).ConfigureAwait(false);
    return 2;
}

// One line naming the flag, its value and what it takes, instead of every error and then the whole help.
if (UsageError.LineOf(parse) is { } usage)
{
    await Console.Error.WriteLineAsync(usage).ConfigureAwait(false);
    return 2;
}

var exitCode = await parse.InvokeAsync().ConfigureAwait(false);

// A usage error is exit 2 (the usual convention, and what the peer commands document), so scripts can tell
// "you called it wrong" from "it ran and failed" (1). System.CommandLine itself returns 1 for both.
return parse.Errors.Count > 0 ? 2 : exitCode;
