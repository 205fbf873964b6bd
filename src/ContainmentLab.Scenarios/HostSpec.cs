using ContainmentLab.Dispatch;

namespace ContainmentLab.Scenarios;

/// <summary>How the user answers the confirm dialog in a fixture (<c>host.policies.confirm</c>).</summary>
public enum ConfirmAnswer
{
    /// <summary>No dialog: confirm means deny (the bridge's default without a callback).</summary>
    None,
    Allow,
    Deny,

    /// <summary>A dialog nobody answers: it waits until the session is interrupted.</summary>
    Never,
}

/// <summary>The host's settings (<c>host:</c>); null keeps the bridge's default.</summary>
public sealed record HostSpec
{
    public TimeSpan? AckTimeout { get; init; }

    public TimeSpan? WriteStallTimeout { get; init; }

    public TimeSpan? RequestTimeout { get; init; }

    public TimeSpan? ShutdownGrace { get; init; }

    public WatchdogSpec Watchdog { get; init; } = new();

    public PolicySpec Policies { get; init; } = new();

    /// <summary>The sandbox root (absolute); null for a fresh temporary directory per run.</summary>
    public string? Sandbox { get; init; }

    public int? RestartBudget { get; init; }

    public TimeSpan? RestartBackoff { get; init; }

    public SweepSpec Sweep { get; init; } = new();
}

/// <summary><c>host.watchdog</c>: overrides of <see cref="Bridge.WatchdogOptions"/>.</summary>
public sealed record WatchdogSpec
{
    public bool? Enabled { get; init; }

    public TimeSpan? ActivityWindow { get; init; }

    /// <summary>Replaces every per-tool timeout (<c>tool_timeout</c>).</summary>
    public TimeSpan? ToolTimeout { get; init; }

    public TimeSpan? MaxToolDuration { get; init; }
}

/// <summary><c>host.policies</c>: per class and per tool, and the confirm dialog's answer.</summary>
public sealed record PolicySpec
{
    public ToolPolicy? ReadOnly { get; init; }

    public ToolPolicy? SideEffect { get; init; }

    public ToolPolicy? Destructive { get; init; }

    public IReadOnlyDictionary<string, ToolPolicy> PerTool { get; init; } = new Dictionary<string, ToolPolicy>(StringComparer.Ordinal);

    public ConfirmAnswer Confirm { get; init; } = ConfirmAnswer.None;

    /// <summary>How long the user takes to answer (<c>confirm_after</c>).</summary>
    public TimeSpan ConfirmAfter { get; init; }
}

/// <summary><c>host.sweep</c>: leases and the orphan sweep.</summary>
public sealed record SweepSpec
{
    public bool? Enabled { get; init; }

    public bool? SweepAtStart { get; init; }

    public TimeSpan? Grace { get; init; }

    /// <summary>The lease directory (absolute); null for a fresh temporary directory per run, so runs never see each other's leases.</summary>
    public string? RuntimeDirectory { get; init; }
}
