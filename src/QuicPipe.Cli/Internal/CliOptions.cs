using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace QuicPipe.Cli.Internal;

/// <summary>Option shapes several commands share.</summary>
internal static class CliOptions
{
    /// <summary>An integer option with a default and a range that is checked when the command line is parsed.</summary>
    public static Option<int> Int(string name, string description, int defaultValue, int min, int max, string helpName = "N")
    {
        var option = new Option<int>(name)
        {
            Description = max == int.MaxValue ? description : $"{description} ({min}-{max})",
            DefaultValueFactory = _ => defaultValue,
            HelpName = helpName,
        };

        // Parsed and range-checked in one place, so no validator ever reads the value of a flag that did not parse.
        option.CustomParser = result => ParseInt(result, name, defaultValue, min, max);
        return option;
    }

    /// <summary>A duration option (<c>500ms</c>, <c>2s</c>, <c>1m</c>, <c>1h30m</c>) with a default used when it is absent.</summary>
    public static Option<Duration> Duration(string name, string description, TimeSpan defaultValue, bool positive = false)
    {
        return new Option<Duration>(name)
        {
            // The help shows the default from the factory, through Duration.ToString: 10s, not 00:00:10.
            Description = description,
            HelpName = "DURATION",
            CustomParser = result => Parse(result, name, defaultValue, positive),
            DefaultValueFactory = _ => new Duration(defaultValue),
        };
    }

    /// <summary>
    /// Adds a check across several of <paramref name="command"/>'s flags that reads their values. A flag that did not
    /// parse has no value (System.CommandLine's GetValue throws InvalidOperationException with its error) and its own
    /// error is the answer (exit 2), so the check is skipped for it instead of crashing the parse.
    /// </summary>
    public static void AddValidator(Command command, Action<CommandResult> validate)
    {
        command.Validators.Add(result =>
        {
            if (result.Children.Any(child => child.Errors.Any()))
            {
                return;
            }

            try
            {
                validate(result);
            }
            catch (InvalidOperationException)
            {
                // A value converted only now, by the check's read, failed: the parser reports that flag's error.
            }
        });
    }

    private static int ParseInt(ArgumentResult result, string name, int defaultValue, int min, int max)
    {
        if (result.Tokens.Count == 0)
        {
            return defaultValue;
        }

        var text = result.Tokens[0].Value;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            if (value >= min && value <= max)
            {
                return value;
            }

            result.AddError($"{name} must be {min} to {max}, not {value}.");
            return defaultValue;
        }

        // Digits that overflow are out of range; anything else (1e6, 0x10, 1.5, abc) is not a whole number.
        var digits = text.TrimStart('-', '+');
        result.AddError(digits.Length > 0 && digits.All(char.IsAsciiDigit)
            ? $"{name} must be {min} to {max}, not {text}."
            : $"{name} must be a whole number from {min} to {max}, not '{text}'.");
        return defaultValue;
    }

    private static Duration Parse(ArgumentResult result, string name, TimeSpan defaultValue, bool positive)
    {
        if (result.Tokens.Count == 0)
        {
            return new Duration(defaultValue);
        }

        var text = result.Tokens[0].Value;
        if (Internal.Duration.TryParse(text, out var duration))
        {
            if (positive && duration.Value <= TimeSpan.Zero)
            {
                result.AddError($"{name} must be more than 0.");
            }

            return duration;
        }

        result.AddError($"{name}: '{text}' is not a duration (examples: 1s, 500ms, 2m, 0 for off).");
        return default;
    }
}
