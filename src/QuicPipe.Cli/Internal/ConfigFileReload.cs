using System.CommandLine;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The <c>--config</c> file, re-read on SIGHUP. The relay takes every setting at start (sockets, threads, limits,
/// intervals); only the routes file's content is re-read in place (<see cref="RoutesFileReload"/>). So a reload checks
/// the file as a start would, and names each setting that changed since the start as needing a restart; a file that
/// would not start the relay is refused with its one-line error. Either way the running relay keeps its settings.
/// </summary>
internal sealed class ConfigFileReload(ParseResult started, IReadOnlyList<string> arguments, string path) : IReloadable
{
    public string What => $"config file {path}";

    public string Reload()
    {
        var current = ConfigDefaults.Parse(QuicpipeCommand.Create(), [.. arguments], out var error);
        if (current is null || current.Errors.Count > 0)
        {
            throw new ReloadException($"not taken: {error ?? current!.Errors[0].Message}");
        }

        var command = started.CommandResult.Command;
        var changed = new List<string>();
        foreach (var option in ConfigDefaults.ConfigurableOptions(command))
        {
            var now = current.CommandResult.Command.Options.First(o => o.Name == option.Name);
            var before = ValuesOf(started, option);
            var after = ValuesOf(current, now);
            if (before != after)
            {
                changed.Add($"{command.Name}.{ConfigDefaults.KeyOf(option)} ({Show(before)} -> {Show(after)})");
            }
        }

        return changed.Count == 0
            ? "no setting changed"
            : throw new ReloadException($"changed, each needs a restart to take effect: {string.Join(", ", changed)}");
    }

    // What the parse gave the option, as its tokens: a default nobody set has none.
    private static string ValuesOf(ParseResult parse, Option option) =>
        parse.GetResult(option) is { Implicit: false } result ? string.Join(' ', result.Tokens.Select(t => t.Value)) : string.Empty;

    private static string Show(string values) => values.Length == 0 ? "default" : values;
}
