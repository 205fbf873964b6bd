namespace ContainmentLab.Scenarios;

/// <summary>How a fixture run ended: every guarantee and expectation held, one did not, or the fixture could not run.</summary>
public enum Verdict
{
    Passed,

    /// <summary>A guarantee or expectation was violated (exit code 1).</summary>
    Failed,

    /// <summary>The fixture is invalid or its files are missing (exit code 2).</summary>
    Invalid,
}

/// <summary>One guarantee checked on a run: held or not, and the first offending record when not.</summary>
public sealed record GuaranteeResult(string Id, bool Held, string? Violation);

/// <summary>One expectation that did not hold: which one (as written), in which session, and the first offending record.</summary>
/// <param name="Expectation">The expectation in words, e.g. <c>events: ToolSkipped count 0 (session s1)</c>.</param>
/// <param name="Location">Where it is written: <c>file:line:column</c>.</param>
public sealed record ExpectationFailure(string Expectation, string? SessionId, string Detail, string? FirstOffendingRecord, string? Location);

/// <summary>One thing that happened in a run, relative to its start, for timelines, reports and snapshots.</summary>
/// <param name="Lane">The session's lane, or <c>host</c> / <c>agent</c> for what concerns no session.</param>
/// <param name="Kind">The event's record name (<c>ToolDispatched</c>, <c>InterruptRequested</c>, …) or a timeline action (<c>prompt</c>, <c>interrupt</c>, …).</param>
public sealed record TimelineEntry(TimeSpan At, string Lane, string Kind, string Detail);

/// <summary>The result of one fixture run.</summary>
/// <param name="StopLatency">From the first interrupt to the last ack (or escalation) it caused; null when nothing was stopped.</param>
public sealed record FixtureResult(
    string Name,
    string Path,
    string Description,
    Verdict Verdict,
    IReadOnlyList<GuaranteeResult> Guarantees,
    IReadOnlyList<ExpectationFailure> Failures,
    TimeSpan? StopLatency,
    TimeSpan Duration,
    IReadOnlyList<TimelineEntry> Timeline,
    IReadOnlyList<string> Sessions,
    string? TranscriptPath,
    string? Error);
