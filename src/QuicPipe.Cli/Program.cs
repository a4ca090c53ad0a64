using QuicPipe.Cli;

var parse = QuicpipeCommand.Create().Parse(args);
var exitCode = await parse.InvokeAsync().ConfigureAwait(false);

// A usage error is exit 2 (the usual convention, and what the peer commands document), so scripts can tell
// "you called it wrong" from "it ran and failed" (1). System.CommandLine itself returns 1 for both.
return parse.Errors.Count > 0 ? 2 : exitCode;
