using System.Globalization;

namespace ContainmentLab.Bridge;

/// <summary>
/// The tool watchdog (G4). A running call's deadline is <c>max(start + ToolTimeout, lastActivity + ActivityWindow)</c>,
/// capped by <see cref="MaxToolDuration"/> when set: a call that keeps showing activity lives on, a silent one does not.
/// </summary>
public sealed class WatchdogOptions
{
    /// <summary>Overrides every tool's timeout; 0 turns the watchdog off.</summary>
    public const string TimeoutEnvironmentVariable = "CONTAINMENTLAB_TOOL_TIMEOUT_SECONDS";

    public static IReadOnlyList<string> InternalHostTools { get; } = ["fs/*", "terminal/*", "desktop.*", "http.request"];

    public TimeSpan ActivityWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Per tool-name pattern (<c>*</c> wildcards), first match wins; <see cref="DefaultToolTimeout"/> otherwise.</summary>
    public IReadOnlyList<KeyValuePair<string, TimeSpan>> ToolTimeouts { get; init; } =
    [
        .. InternalHostTools.Select(p => KeyValuePair.Create(p, TimeSpan.FromSeconds(10))),
        KeyValuePair.Create("mcp__*", TimeSpan.FromSeconds(120)),
    ];

    public TimeSpan DefaultToolTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>When set, replaces every per-tool timeout (from <see cref="TimeoutEnvironmentVariable"/>).</summary>
    public TimeSpan? OverrideToolTimeout { get; init; }

    /// <summary>Hard cap: cancels even a call that keeps chattering. Null for none.</summary>
    public TimeSpan? MaxToolDuration { get; init; }

    /// <summary>False turns the watchdog off (<see cref="TimeoutEnvironmentVariable"/> = 0).</summary>
    public bool Enabled { get; init; } = true;

    public TimeSpan TimeoutFor(string toolName)
    {
        ArgumentNullException.ThrowIfNull(toolName);
        if (OverrideToolTimeout is { } all)
        {
            return all;
        }

        foreach (var (pattern, timeout) in ToolTimeouts)
        {
            if (Matches(pattern, toolName))
            {
                return timeout;
            }
        }

        return DefaultToolTimeout;
    }

    /// <summary>The defaults, with <see cref="TimeoutEnvironmentVariable"/> applied when it is set.</summary>
    public static WatchdogOptions FromEnvironment(string? value = null)
    {
        value ??= Environment.GetEnvironmentVariable(TimeoutEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(value))
        {
            return new WatchdogOptions();
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds < 0 || double.IsInfinity(seconds))
        {
            throw new FormatException($"{TimeoutEnvironmentVariable}='{value}': expected a number of seconds (0 turns the watchdog off)");
        }

        return seconds == 0 ? new WatchdogOptions { Enabled = false } : new WatchdogOptions { OverrideToolTimeout = TimeSpan.FromSeconds(seconds) };
    }

    private static bool Matches(string pattern, string name)
    {
        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return string.Equals(pattern, name, StringComparison.Ordinal);
        }

        var parts = pattern.Split('*');
        if (!name.StartsWith(parts[0], StringComparison.Ordinal) || !name.EndsWith(parts[^1], StringComparison.Ordinal))
        {
            return false;
        }

        var position = parts[0].Length;
        for (var i = 1; i < parts.Length - 1; i++)
        {
            var found = name.IndexOf(parts[i], position, StringComparison.Ordinal);
            if (found < 0)
            {
                return false;
            }

            position = found + parts[i].Length;
        }

        return position <= name.Length - parts[^1].Length;
    }
}
