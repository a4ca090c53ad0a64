using System.CommandLine;
using System.CommandLine.Parsing;

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
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<int>();
            if (value < min || value > max)
            {
                result.AddError($"{name} must be {min} to {max}, not {value}.");
            }
        });
        return option;
    }

    /// <summary>A duration option (<c>500ms</c>, <c>2s</c>, <c>1m</c>, <c>1h30m</c>) with a default used when it is absent.</summary>
    public static Option<Duration> Duration(string name, string description, TimeSpan defaultValue)
    {
        return new Option<Duration>(name)
        {
            // The help shows the default from the factory, through Duration.ToString: 10s, not 00:00:10.
            Description = description,
            HelpName = "DURATION",
            CustomParser = result => Parse(result, defaultValue),
            DefaultValueFactory = _ => new Duration(defaultValue),
        };
    }

    private static Duration Parse(ArgumentResult result, TimeSpan defaultValue)
    {
        if (result.Tokens.Count == 0)
        {
            return new Duration(defaultValue);
        }

        var text = result.Tokens[0].Value;
        if (Internal.Duration.TryParse(text, out var duration))
        {
            return duration;
        }

        result.AddError($"'{text}' is not a duration (examples: 1s, 500ms, 2m, 0 for off).");
        return default;
    }
}
