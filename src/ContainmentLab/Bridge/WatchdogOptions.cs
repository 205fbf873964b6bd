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

        // Indexed, not foreach: this runs once per dispatched call, and an interface enumerator is an allocation.
        var timeouts = ToolTimeouts;
        for (var i = 0; i < timeouts.Count; i++)
        {
            var (pattern, timeout) = timeouts[i];
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

    /// <summary>A <c>*</c>-wildcard match on spans (no <c>Split</c>: it runs for every pattern on every dispatched call).</summary>
    private static bool Matches(string pattern, string name)
    {
        var firstStar = pattern.IndexOf('*', StringComparison.Ordinal);
        if (firstStar < 0)
        {
            return string.Equals(pattern, name, StringComparison.Ordinal);
        }

        var lastStar = pattern.LastIndexOf('*');
        var head = pattern.AsSpan(0, firstStar);
        var tail = pattern.AsSpan(lastStar + 1);
        if (name.Length < head.Length + tail.Length || !name.AsSpan().StartsWith(head, StringComparison.Ordinal) || !name.AsSpan().EndsWith(tail, StringComparison.Ordinal))
        {
            return false;
        }

        // The middle parts, in order, between the head and the tail.
        var rest = name.AsSpan(head.Length, name.Length - head.Length - tail.Length);
        var middle = pattern.AsSpan(firstStar + 1, Math.Max(0, lastStar - firstStar - 1));
        while (!middle.IsEmpty)
        {
            var star = middle.IndexOf('*');
            var part = star < 0 ? middle : middle[..star];
            middle = star < 0 ? [] : middle[(star + 1)..];
            if (part.IsEmpty)
            {
                continue;
            }

            var found = rest.IndexOf(part, StringComparison.Ordinal);
            if (found < 0)
            {
                return false;
            }

            rest = rest[(found + part.Length)..];
        }

        return true;
    }
}
