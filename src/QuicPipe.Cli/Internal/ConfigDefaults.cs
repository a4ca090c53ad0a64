using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using QuicPipe.Dataplane;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// <c>--config FILE</c> and <c>QUICPIPE_&lt;COMMAND&gt;__&lt;KEY&gt;</c> environment variables (docs/configuration.md):
/// their values become command-line tokens before the real parse, so every option keeps one parser, one validator and
/// one error message whichever source its value came from. Precedence: the file, then the flags, then the environment.
/// </summary>
/// <remarks>
/// A key is its flag without the dashes, in camelCase (<c>--stats-interval</c> is <c>statsInterval</c>), inside a
/// section named after the command (<c>{"relay": {"statsInterval": "1s"}}</c>), so one file can serve several
/// commands and the environment variable is <c>QUICPIPE_RELAY__STATSINTERVAL</c>, as ASP.NET Core spells its keys.
/// Positional arguments (expose's PORT, dial's NODEID) stay on the command line: they say what to do, not how.
/// </remarks>
internal static class ConfigDefaults
{
    public const string EnvironmentPrefix = "QUICPIPE_";

    private const string ConfigOptionName = "--config";

    // A configuration is a few hundred bytes; a file past this is not one.
    private const int MaxFileBytes = 1024 * 1024;

    // No response files: '@FILE' is a value some flags take (accept --offer-in @FILE), not a file of more arguments.
    private static readonly ParserConfiguration Parser = new() { ResponseFileTokenReplacer = null };

    /// <summary>Adds <c>--config FILE</c> to <paramref name="command"/>: every command takes it.</summary>
    public static void AddTo(Command command) => command.Options.Add(new Option<FileInfo?>(ConfigOptionName)
    {
        Description = "A JSON file holding what the flags hold (docs/configuration.md); flags override it, QUICPIPE_* environment variables override both.",
        HelpName = "FILE",
    });

    /// <summary>The <c>--config</c> file <paramref name="parse"/> was given, or null.</summary>
    public static string? ConfigFileOf(ParseResult parse) =>
        parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == ConfigOptionName) is { } option
        && parse.GetResult(option) is { Tokens: [var file] } ? file.Value : null;

    /// <summary>The configuration key of <paramref name="option"/>: its flag without the dashes, in camelCase.</summary>
    public static string KeyOf(Option option)
    {
        var words = option.Name.TrimStart('-').Split('-');
        return words[0] + string.Concat(words.Skip(1).Select(w => char.ToUpperInvariant(w[0]) + w[1..]));
    }

    /// <summary>The options of <paramref name="command"/> a file or the environment may set (all but --help and --config).</summary>
    public static IEnumerable<Option> ConfigurableOptions(Command command) =>
        command.Options.Where(o => o is not HelpOption and not VersionOption && o.Name != ConfigOptionName);

    /// <summary>
    /// Parses <paramref name="args"/> with the configuration of the command they name applied. A bad configuration
    /// is one line in <paramref name="error"/> and a null result: the caller exits 2, as for a bad flag.
    /// </summary>
    public static ParseResult? Parse(RootCommand root, string[] args, out string? error)
    {
        error = null;

        // A first parse finds the command, its --config and the flags given; its errors (a required flag the file
        // gives, say) are the final parse's to report.
        var first = root.Parse(args, Parser);
        var command = first.CommandResult.Command;
        if (command == root || first.CommandResult.IdentifierToken is not { } commandToken)
        {
            return first;
        }

        var prefix = $"quicpipe {command.Name}: ";
        var options = ConfigurableOptions(command).ToDictionary(KeyOf, StringComparer.OrdinalIgnoreCase);
        var values = new Dictionary<Option, Setting>();

        if (first.GetResult(command.Options.Single(o => o.Name == ConfigOptionName)) is { Tokens: [var fileToken] })
        {
            if (!TryReadFile(root, command, options, fileToken.Value, values, out error))
            {
                error = prefix + error;
                return null;
            }
        }

        if (!TryReadEnvironment(command, options, values, out error))
        {
            error = prefix + error;
            return null;
        }

        // Flags override the file (its value is dropped); the environment overrides the flags (theirs are dropped).
        var given = values.Keys.Where(o => first.GetResult(o) is { Implicit: false }).ToList();
        var kept = new List<string>(args);
        foreach (var option in given)
        {
            if (values[option].FromEnvironment)
            {
                kept = WithoutOption(kept, option, first.GetResult(option)!);
            }
            else
            {
                values.Remove(option);
            }
        }

        // Right after the command's name, and so before any "--" that ends the options.
        var insertAt = kept.IndexOf(commandToken.Value) + 1;
        kept.InsertRange(insertAt, values.SelectMany(pair => Tokens(pair.Key, pair.Value.Values)));
        var parse = root.Parse(kept, Parser);

        // An error in a value that came from the file or the environment names where it came from, not a flag.
        foreach (var parseError in parse.Errors)
        {
            if (UsageError.OptionOf(parseError.SymbolResult) is { } option && values.TryGetValue(option, out var setting))
            {
                error = $"{prefix}{setting.Source}: {command.Name}.{KeyOf(option)}: {Explain(option, parseError.Message)}";
                return null;
            }
        }

        return parse;
    }

    private static bool TryReadFile(RootCommand root, Command command, Dictionary<string, Option> options, string path, Dictionary<Option, Setting> values, out string? error)
    {
        IConfigurationRoot file;
        if (path.Length == 0)
        {
            error = "--config: '' is not a file name (give the path of a JSON file).";
            return false;
        }

        var fullPath = Path.GetFullPath(path);
        try
        {
            // Read within a bound first: a --config of /dev/zero or a huge file is refused, not read until memory runs out.
            var json = SmallFile.Read(fullPath, MaxFileBytes, "a configuration file");
            file = new ConfigurationBuilder().AddJsonStream(new MemoryStream(json)).Build();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException or JsonException)
        {
            // Malformed JSON arrives as the JsonException that says where, or wrapped in InvalidDataException or FormatException.
            error = JsonErrorIn(e) is { } json
                ? $"--config {path}: not valid JSON: {json.Message}"
                : e is FileNotFoundException ? $"--config {path}: no such file"
                : e is InvalidDataException && e.Message.StartsWith(fullPath + ": ", StringComparison.Ordinal) ? $"--config {path}: {e.Message[(fullPath.Length + 2)..]}"
                : $"--config {path}: cannot read it: {e.Message}";
            error = OneLine(error);
            return false;
        }

        // Every key in the file is checked, also in other commands' sections: a typo is never silently ignored.
        foreach (var section in file.GetChildren())
        {
            if (root.Subcommands.FirstOrDefault(c => string.Equals(c.Name, section.Key, StringComparison.OrdinalIgnoreCase)) is not { } sectionCommand)
            {
                error = $"{path}: unknown key '{section.Key}' (the top-level keys are command names: {string.Join(", ", root.Subcommands.Select(c => c.Name))}).";
                return false;
            }

            var known = sectionCommand == command ? options : ConfigurableOptions(sectionCommand).ToDictionary(KeyOf, StringComparer.OrdinalIgnoreCase);
            foreach (var entry in section.GetChildren())
            {
                if (!known.TryGetValue(entry.Key, out var option))
                {
                    error = $"{path}: unknown key '{section.Key}.{entry.Key}' ('quicpipe {sectionCommand.Name} --help' lists the flags; a key is a flag in camelCase, e.g. --stats-interval is statsInterval).";
                    return false;
                }

                if (sectionCommand == command)
                {
                    if (!TryValues(option, entry, out var list, out var why))
                    {
                        error = $"{path}: {command.Name}.{KeyOf(option)}: {why}";
                        return false;
                    }

                    values[option] = new Setting(list, path, FromEnvironment: false);
                }
            }
        }

        error = null;
        return true;
    }

    private static bool TryReadEnvironment(Command command, Dictionary<string, Option> options, Dictionary<Option, Setting> values, out string? error)
    {
        // Only QUICPIPE_<COMMAND>__<KEY> is configuration: other QUICPIPE_* variables (QUICPIPE_DLL in perf/) are not ours.
        var sectionPrefix = $"{EnvironmentPrefix}{command.Name.ToUpperInvariant()}__";
        var section = new ConfigurationBuilder().AddEnvironmentVariables(EnvironmentPrefix).Build().GetSection(command.Name);
        foreach (var entry in section.GetChildren())
        {
            var variable = $"{sectionPrefix}{entry.Key.ToUpperInvariant()}";
            if (!options.TryGetValue(entry.Key, out var option))
            {
                error = $"environment variable {variable}: unknown key '{command.Name}.{entry.Key}' ('quicpipe {command.Name} --help' lists the flags; --stats-interval is {sectionPrefix}STATSINTERVAL).";
                return false;
            }

            if (!TryValues(option, entry, out var list, out var why))
            {
                error = $"environment variable {variable}: {command.Name}.{KeyOf(option)}: {why}";
                return false;
            }

            values[option] = new Setting(list, $"environment variable {variable}", FromEnvironment: true);
        }

        error = null;
        return true;
    }

    /// <summary>A repeatable option takes a JSON array (or one value); any other takes one value.</summary>
    private static bool TryValues(Option option, IConfigurationSection entry, out List<string> values, out string? error)
    {
        values = [];
        error = null;
        var repeatable = option.Arity.MaximumNumberOfValues > 1;
        if (entry.Value is { } single)
        {
            values.Add(single);
            return true;
        }

        var items = entry.GetChildren().ToList();
        if (!repeatable)
        {
            error = items.Count == 0 ? $"needs a value ({Allowed(option)})." : $"takes one value ({Allowed(option)}), not a list or an object.";
            return false;
        }

        foreach (var item in items.OrderBy(i => int.TryParse(i.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : -1))
        {
            if (item.Value is null || !int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                error = $"takes a list of values ({Allowed(option)}), e.g. [\"a\", \"b\"].";
                return false;
            }

            values.Add(item.Value);
        }

        return true;
    }

    /// <summary>
    /// The tokens that set <paramref name="option"/>: <c>--name=value</c>, so a value that starts with '-' is never read as
    /// a flag; an empty value of an option whose value is optional (<c>--offer-out</c>) is the bare flag.
    /// </summary>
    private static IEnumerable<string> Tokens(Option option, List<string> values) =>
        values.Select(v => v.Length == 0 && option.Arity.MinimumNumberOfValues == 0 ? option.Name : $"{option.Name}={v}");

    /// <summary><paramref name="args"/> without the occurrences of <paramref name="option"/> (its name and its values).</summary>
    private static List<string> WithoutOption(List<string> args, Option option, OptionResult given)
    {
        var names = option.Aliases.Append(option.Name).ToHashSet(StringComparer.Ordinal);
        var values = new Queue<string>(given.Tokens.Select(t => t.Value));
        var kept = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                kept.AddRange(args.Skip(i));
                break;
            }

            var inline = arg.IndexOfAny(['=', ':']);
            if (inline > 0 && names.Contains(arg[..inline]))
            {
                values.TryDequeue(out _);
                continue;
            }

            if (!names.Contains(arg))
            {
                kept.Add(arg);
                continue;
            }

            // The flag's value follows it, unless the flag stood alone (a bool flag, or --offer-out without FILE).
            if (i + 1 < args.Count && values.TryPeek(out var next) && args[i + 1] == next)
            {
                values.Dequeue();
                i++;
            }
        }

        return kept;
    }

    private static JsonException? JsonErrorIn(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is JsonException json)
            {
                return json;
            }
        }

        return null;
    }

    /// <summary>The parser's message for a value from a file or the environment: the key names the flag already.</summary>
    private static string Explain(Option option, string message)
    {
        var text = UsageError.Explain(option, message);
        return text.StartsWith(option.Name + ": ", StringComparison.Ordinal) ? text[(option.Name.Length + 2)..] : text;
    }

    private static string Allowed(Option option) => UsageError.Allowed(option);

    private static string OneLine(string text) => UsageError.OneLine(text);

    /// <summary>The values a file or the environment gives an option, and where they came from (for error lines).</summary>
    private sealed record Setting(List<string> Values, string Source, bool FromEnvironment);
}
