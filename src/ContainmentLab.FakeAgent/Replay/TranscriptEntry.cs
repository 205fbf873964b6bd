namespace ContainmentLab.FakeAgent;

/// <summary>One line of a transcript.</summary>
/// <param name="LineNumber">The 1-based line of the transcript file.</param>
/// <param name="Seconds">The <c>t</c> field: seconds since the run started.</param>
/// <param name="Line">The raw wire line, without its terminator, for <see cref="TranscriptDirection.In"/> and <see cref="TranscriptDirection.Out"/>.</param>
/// <param name="Event">The event name for <see cref="TranscriptDirection.Event"/>, when given.</param>
public sealed record TranscriptEntry(long LineNumber, double Seconds, TranscriptDirection Direction, string? Line, string? Event);
