namespace ContainmentLab.FakeAgent;

/// <summary>The <c>dir</c> of a transcript line, seen from the host.</summary>
public enum TranscriptDirection
{
    /// <summary>A line the agent wrote and the host read.</summary>
    In,

    /// <summary>A line the host wrote to the agent.</summary>
    Out,

    /// <summary>A containment event (<c>ToolSkipped</c>, …); replay ignores it.</summary>
    Event,
}
