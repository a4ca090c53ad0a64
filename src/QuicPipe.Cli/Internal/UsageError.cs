using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// A command line that did not parse, said in one line: <c>quicpipe CMD: WHAT</c>, naming the flag, the value and what
/// the flag takes. System.CommandLine's own report is every error on a line of its own followed by the whole help, and
/// its conversion errors name .NET types ('System.Int32'); scripts and people read one line better.
/// </summary>
internal static class UsageError
{
    /// <summary>The line to print for <paramref name="parse"/>, or null when it parsed (or asked for help, which clears errors).</summary>
    public static string? LineOf(ParseResult parse)
    {
        if (parse.Errors.Count == 0 || parse.Action is not ParseErrorAction)
        {
            return null;
        }

        var command = parse.CommandResult.Command;
        var prefix = command is RootCommand ? "quicpipe: " : $"quicpipe {command.Name}: ";

        // One error is said and the rest counted: the most specific one, as the others are often its echoes (a flag
        // whose value is bad then also lacks a value another check needs, a stray word leaves a command unnamed).
        var first = parse.Errors.OrderBy(error => Rank(parse, error)).First();
        var text = OptionOf(first.SymbolResult) is { } option ? Explain(option, first.Message) : OneLine(first.Message);
        if (command is RootCommand)
        {
            // No command, or not one of ours: the line lists them, as the help would.
            return $"{prefix}{text} The commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))} ('quicpipe --help' says more).";
        }

        var more = parse.Errors.Count - 1;
        return more > 0 ? $"{prefix}{text} (and {more} more: see --help)" : prefix + text;
    }

    /// <summary>0: a flag's or argument's value is wrong; 1: the error quotes a word that was typed; 2: the rest (missing things).</summary>
    private static int Rank(ParseResult parse, ParseError error) =>
        error.SymbolResult is OptionResult or ArgumentResult ? 0
        : parse.Tokens.Any(token => error.Message.Contains($"'{token.Value}'", StringComparison.Ordinal)) ? 1
        : 2;

    /// <summary>The parser's message, on one line, with what the option allows when the message does not say.</summary>
    public static string Explain(Option option, string message)
    {
        var text = OneLine(message);

        // System.CommandLine's conversion error names a .NET type: say what a person may write instead.
        const string conversion = "Cannot parse argument '";
        if (text.StartsWith(conversion, StringComparison.Ordinal))
        {
            var end = text.IndexOf("' for option", conversion.Length, StringComparison.Ordinal);
            var value = end < 0 ? string.Empty : text[conversion.Length..end];
            return $"{option.Name}: '{value}' is not {Allowed(option)}.";
        }

        // Messages of System.CommandLine's own checks ("Argument 'x' not recognized. Must be one of: ...") do not say
        // which flag they are about.
        return text.Contains(option.Name, StringComparison.Ordinal) ? text : $"{option.Name}: {text}";
    }

    /// <summary>What <paramref name="option"/> takes, in words: an enum's names, true or false, or its help name.</summary>
    public static string Allowed(Option option)
    {
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        return type.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(type))}"
            : type == typeof(bool) ? "true or false"
            : option.HelpName ?? type.Name;
    }

    public static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>The option an error belongs to (the error may sit on the option's argument), or null.</summary>
    public static Option? OptionOf(SymbolResult? result)
    {
        for (; result is not null; result = result.Parent)
        {
            if (result is OptionResult option)
            {
                return option.Option;
            }
        }

        return null;
    }
}
