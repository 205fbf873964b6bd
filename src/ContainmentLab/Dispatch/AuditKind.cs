namespace ContainmentLab.Dispatch;

/// <summary>What an audit record says. Every tool call ends in exactly one terminal kind (<see cref="AuditKinds.IsTerminal"/>).</summary>
public enum AuditKind
{
    /// <summary>The tool call passed the gate; written and flushed before the tool runs.</summary>
    Dispatched,
    Completed,
    Failed,
    Canceled,

    /// <summary>Refused at the gate: the session was interrupted. No <see cref="Dispatched"/> precedes it.</summary>
    Skipped,
    Denied,
    DryRun,

    /// <summary>A session's gate closed (Stop).</summary>
    Interrupted,

    /// <summary>A permission request and how it was answered.</summary>
    Permission,

    /// <summary>
    /// A dispatched host tool begins its side effect (the desktop action, the write, the process start, the HTTP send):
    /// checked against the gate at that moment, under its lock. Not terminal: <c>dispatched</c> → <c>began</c> → terminal.
    /// Appended last so the enum's numbers of the older kinds stay as they were (transcripts carry them).
    /// </summary>
    Began,
}

public static class AuditKinds
{
    public static bool IsTerminal(this AuditKind kind) => kind is AuditKind.Completed or AuditKind.Failed or AuditKind.Canceled
        or AuditKind.Skipped or AuditKind.Denied or AuditKind.DryRun;

    /// <summary>The name written to the log: lower case, <c>dry-run</c> hyphenated.</summary>
    public static string WireName(this AuditKind kind) => kind switch
    {
        AuditKind.Dispatched => "dispatched",
        AuditKind.Completed => "completed",
        AuditKind.Failed => "failed",
        AuditKind.Canceled => "canceled",
        AuditKind.Skipped => "skipped",
        AuditKind.Denied => "denied",
        AuditKind.DryRun => "dry-run",
        AuditKind.Interrupted => "interrupted",
        AuditKind.Permission => "permission",
        AuditKind.Began => "began",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static AuditKind Parse(string wireName) => wireName switch
    {
        "dispatched" => AuditKind.Dispatched,
        "completed" => AuditKind.Completed,
        "failed" => AuditKind.Failed,
        "canceled" => AuditKind.Canceled,
        "skipped" => AuditKind.Skipped,
        "denied" => AuditKind.Denied,
        "dry-run" => AuditKind.DryRun,
        "interrupted" => AuditKind.Interrupted,
        "permission" => AuditKind.Permission,
        "began" => AuditKind.Began,
        _ => throw new FormatException($"unknown audit kind '{wireName}'"),
    };
}
