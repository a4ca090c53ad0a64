using System.Collections;
using System.CommandLine;
using System.Text;
using QuicPipe.Cli.Internal;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// The key tables of docs/configuration.md, generated from the real option definitions (a test checks the doc holds
/// exactly this text, so it cannot go stale).
/// </summary>
internal static class ConfigurationDoc
{
    // Defaults that depend on the machine the doc is generated on are named, not printed.
    private static readonly Dictionary<string, string> MachineDefaults = new(StringComparer.Ordinal)
    {
        ["--threads"] = "the number of CPUs",
    };

    public static string KeyTables()
    {
        var text = new StringBuilder();
        foreach (var command in QuicpipeCommand.Create().Subcommands)
        {
            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append("### ").Append(command.Name).Append("\n\n");
            text.Append("| key | flag | default | meaning |\n| --- | --- | --- | --- |\n");
            foreach (var option in ConfigDefaults.ConfigurableOptions(command))
            {
                var key = ConfigDefaults.KeyOf(option);
                var repeatable = option.Arity.MaximumNumberOfValues > 1 ? " (array)" : string.Empty;
                text.Append($"| `{command.Name}.{key}`{repeatable} | `{option.Name}` | {Default(option)} | {Escape(option.Description ?? string.Empty)} |\n");
            }
        }

        return text.ToString();
    }

    private static string Default(Option option)
    {
        if (MachineDefaults.TryGetValue(option.Name, out var named))
        {
            return named;
        }

        if (option.Required)
        {
            return "required";
        }

        var value = option.HasDefaultValue ? option.GetDefaultValue() : null;
        return value switch
        {
            null => "none",
            bool flag => flag ? "`true`" : "`false`",
            IEnumerable list and not string => list.Cast<object>().Any() ? $"`{string.Join(", ", list.Cast<object>())}`" : "none",
            _ => $"`{value}`",
        };
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
