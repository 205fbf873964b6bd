namespace ContainmentLab.Scenarios.Report;

/// <summary>How a timeline entry is drawn: one shape and colour per category, shown in the legend.</summary>
internal enum MarkCategory
{
    Prompt,
    Dispatch,
    Skip,
    Interrupt,
    Ack,
    WatchdogCancel,
    Escalation,
    AgentExit,
    Other,
}
