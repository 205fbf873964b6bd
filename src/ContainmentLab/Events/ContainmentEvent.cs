namespace ContainmentLab.Events;

/// <summary>Base of every containment event the bridge emits. Each kind of event is its own sealed record.</summary>
/// <param name="At">When it happened, on the bridge's <see cref="TimeProvider"/>.</param>
/// <param name="SessionId">The session it concerns, or null when it concerns the agent or the host as a whole.</param>
public abstract record ContainmentEvent(DateTimeOffset At, string? SessionId)
{
    /// <summary>The short name used in transcripts, reports and fixture expectations (the record's type name).</summary>
    public string Name => GetType().Name;
}
