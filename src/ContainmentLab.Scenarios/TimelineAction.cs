namespace ContainmentLab.Scenarios;

public enum ActionKind
{
    Prompt,
    Interrupt,
    InterruptAll,

    /// <summary>The bridge is disposed (the user quits the app).</summary>
    Stop,

    /// <summary>The host process is SIGKILLed; afterwards the orphan sweep must leave no cookie carrier (G7).</summary>
    KillHost,

    /// <summary>A new session: the bridge starts a fresh agent when the previous one died (G5).</summary>
    Restart,
}

/// <summary>
/// One user action on the timeline. It runs <see cref="At"/> after the run's start, or once <see cref="After"/> holds,
/// or (neither) right after the previous action; <see cref="Session"/> is the fixture's session name.
/// </summary>
public sealed record TimelineAction(ActionKind Kind, string? Session, string Text, TimeSpan? At, EventCondition? After, SourceMark Mark)
{
    /// <summary>The action's name as written in fixtures (<c>interrupt_all</c>).</summary>
    public string Name => ActionNames.Of(Kind);
}

/// <summary>
/// <c>after:</c> — the <see cref="Count"/>th event named <see cref="Event"/> (in <see cref="Session"/>, when given) has
/// been seen; the run fails if it does not come within <see cref="Timeout"/>.
/// </summary>
public sealed record EventCondition(string Event, string? Session, int Count, TimeSpan Timeout, SourceMark Mark)
{
    public override string ToString() =>
        $"{Event} ×{Count}{(Session is null ? string.Empty : $" in {Session}")}";
}

internal static class ActionNames
{
    public static readonly IReadOnlyDictionary<string, ActionKind> ByName = new Dictionary<string, ActionKind>(StringComparer.Ordinal)
    {
        ["prompt"] = ActionKind.Prompt,
        ["interrupt"] = ActionKind.Interrupt,
        ["interrupt_all"] = ActionKind.InterruptAll,
        ["stop"] = ActionKind.Stop,
        ["kill_host"] = ActionKind.KillHost,
        ["restart"] = ActionKind.Restart,
    };

    public static string Of(ActionKind kind) => ByName.First(p => p.Value == kind).Key;
}
