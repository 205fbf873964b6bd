namespace ContainmentLab.Scenarios.Report;

/// <summary>Sorts <see cref="TimelineEntry.Kind"/> values (event record names and timeline actions) into <see cref="MarkCategory"/>.</summary>
internal static class MarkCategories
{
    private static readonly Dictionary<string, MarkCategory> s_byKind = new(StringComparer.OrdinalIgnoreCase)
    {
        ["prompt"] = MarkCategory.Prompt,
        ["TurnStarted"] = MarkCategory.Prompt,
        ["ToolDispatched"] = MarkCategory.Dispatch,
        ["ToolSkipped"] = MarkCategory.Skip,
        ["interrupt"] = MarkCategory.Interrupt,
        ["interrupt_all"] = MarkCategory.Interrupt,
        ["stop"] = MarkCategory.Interrupt,
        ["InterruptRequested"] = MarkCategory.Interrupt,
        ["CancelSent"] = MarkCategory.Interrupt,
        ["AckReceived"] = MarkCategory.Ack,
        ["ToolHangCanceled"] = MarkCategory.WatchdogCancel,
        ["Escalated"] = MarkCategory.Escalation,
        ["AckTimedOut"] = MarkCategory.Escalation,
        ["AgentWedged"] = MarkCategory.Escalation,
        ["AgentExited"] = MarkCategory.AgentExit,
        ["kill_host"] = MarkCategory.AgentExit,
    };

    public static MarkCategory Of(string kind) => s_byKind.TryGetValue(kind, out var category) ? category : MarkCategory.Other;

    /// <summary>The legend's words for a category.</summary>
    public static string Label(MarkCategory category) => category switch
    {
        MarkCategory.Prompt => "prompt / turn start",
        MarkCategory.Dispatch => "tool dispatched",
        MarkCategory.Skip => "tool skipped (gate closed)",
        MarkCategory.Interrupt => "interrupt / cancel sent",
        MarkCategory.Ack => "cancel acknowledged",
        MarkCategory.WatchdogCancel => "watchdog cancel (ToolHangCanceled)",
        MarkCategory.Escalation => "escalation / ack timeout",
        MarkCategory.AgentExit => "agent exit / host killed",
        _ => "other event",
    };

    /// <summary>Dense categories are drawn as a histogram (one bar per few pixels) so a 2,000-call storm stays readable.</summary>
    public static bool IsDense(MarkCategory category) => category is MarkCategory.Dispatch or MarkCategory.Skip or MarkCategory.Other;
}
