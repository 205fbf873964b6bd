namespace ContainmentLab.FakeAgent;

/// <summary>How a <see cref="TranscriptReplayer"/> copes with a host that does not do what the transcript says.</summary>
public sealed class ReplayOptions
{
    /// <summary>
    /// How long the replay waits, with the host silent, for host lines the next agent line depends on before it gives
    /// up on them (a divergence) and writes the line anyway. The host and this replay would otherwise wait on each other
    /// for ever. Measured on the replayer's <see cref="TimeProvider"/>; <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
