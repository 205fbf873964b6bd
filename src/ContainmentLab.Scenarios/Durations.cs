using System.Globalization;
using System.Text.RegularExpressions;

namespace ContainmentLab.Scenarios;

/// <summary>Durations as fixtures write them: a number and a unit, <c>150ms</c>, <c>2s</c>, <c>1.5s</c>, <c>1m</c>, <c>1h</c>.</summary>
public static partial class Durations
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(text);
        duration = default;
        var match = Pattern().Match(text.Trim());
        if (!match.Success || !double.TryParse(match.Groups["n"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
        {
            return false;
        }

        var ms = match.Groups["u"].Value switch
        {
            "ms" => n,
            "s" => n * 1_000,
            "m" => n * 60_000,
            _ => n * 3_600_000,
        };
        if (ms > TimeSpan.FromHours(24).TotalMilliseconds)
        {
            return false;
        }

        duration = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    public static string Format(TimeSpan duration) =>
        duration.TotalMilliseconds < 1_000 || duration.Milliseconds != 0
            ? $"{duration.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms"
            : $"{duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s";

    [GeneratedRegex(@"^(?<n>[0-9]+(\.[0-9]+)?)(?<u>ms|s|m|h)$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
