namespace ContainmentLab.Bridge;

/// <summary>How a prompt turn ended.</summary>
public enum TurnEnd
{
    /// <summary>The agent answered without an interrupt (stop reason in <see cref="TurnOutcome.StopReason"/>).</summary>
    Completed,

    /// <summary>Interrupted, and the agent acknowledged by answering the prompt (ideally with <c>cancelled</c>).</summary>
    Cancelled,

    /// <summary>Interrupted, the agent did not answer within AckTimeout, and the bridge killed it.</summary>
    Escalated,

    /// <summary>The agent answered the prompt with an error.</summary>
    Failed,

    /// <summary>The agent died (or the bridge was stopped) before it answered.</summary>
    AgentExited,
}

/// <summary>The outcome of <see cref="AcpBridge.PromptAsync"/>: always typed, never a hang.</summary>
/// <param name="StopReason">The agent's stop reason, when it answered.</param>
/// <param name="Interrupted">Stop was pressed during the turn.</param>
/// <param name="AckLatency">From the interrupt to the agent's answer, when it answered after one.</param>
/// <param name="ProtocolDeviation">The agent answered an interrupted turn with something other than <c>cancelled</c>.</param>
/// <param name="Reason">Why it failed or escalated, in words.</param>
public sealed record TurnOutcome(
    string SessionId,
    TurnEnd End,
    string? StopReason,
    bool Interrupted,
    TimeSpan Duration,
    TimeSpan? AckLatency,
    bool ProtocolDeviation,
    string? Reason)
{
    /// <summary>How the agent ended, when the turn ended because it did.</summary>
    public AgentExit? Exit { get; init; }

    public bool Escalated => End == TurnEnd.Escalated;

    public bool Failed => End is TurnEnd.Failed or TurnEnd.AgentExited;
}
