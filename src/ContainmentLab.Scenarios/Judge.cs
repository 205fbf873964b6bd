using System.Globalization;
using ContainmentLab.Bridge;
using ContainmentLab.Events;

namespace ContainmentLab.Scenarios;

/// <summary>Turns a <see cref="RunLog"/> into a <see cref="FixtureResult"/>: guarantees, expectations, timeline, verdict.</summary>
internal static class Judge
{
    public static FixtureResult Evaluate(RunLog log, IReadOnlyList<ExpectationFailure> problems, TimeSpan duration, string? transcriptPath)
    {
        var fixture = log.Fixture;
        var failures = new List<ExpectationFailure>(problems);
        var listed = fixture.Expect.Guarantees.Count > 0
            ? fixture.Expect.Guarantees
            : GuaranteeChecks.All.Where(g => g != "G2").Select(g => new GuaranteeExpectation(g, new SourceMark(fixture.Path, 0, 0))).ToList();
        var guarantees = new List<GuaranteeResult>();
        foreach (var g in listed.DistinctBy(g => g.Id))
        {
            var violation = GuaranteeChecks.Check(g.Id, log);
            guarantees.Add(new GuaranteeResult(g.Id, violation is null, violation));
            if (violation is not null)
            {
                failures.Add(new ExpectationFailure($"guarantee {g.Id} ({GuaranteeChecks.Title(g.Id)})", null, violation, violation, g.Mark.Line > 0 ? g.Mark.ToString() : null));
            }
        }

        // Whatever guarantees a fixture lists, nothing it started may outlive it (G7 says so itself when listed).
        if (!guarantees.Any(g => g.Id == "G7") && GuaranteeChecks.NothingLeftRunning(log) is { } leftover)
        {
            failures.Add(new ExpectationFailure("nothing left running", null, leftover, leftover, null));
        }

        if (log.Os?.CleanupFailures is { Count: > 0 } survivors)
        {
            failures.Add(new ExpectationFailure("clean-up", null, $"the runner could not kill what the run left: {string.Join("; ", survivors.Select(p => p.ToString()))}", null, null));
        }

        failures.AddRange(fixture.Expect.Events.Select(e => CheckEvents(e, log)).OfType<ExpectationFailure>());
        failures.AddRange(fixture.Expect.Turns.Select(t => CheckTurn(t, log)).OfType<ExpectationFailure>());
        failures.AddRange(fixture.Expect.Within.Select(w => CheckWithin(w, log)).OfType<ExpectationFailure>());

        return new FixtureResult(
            fixture.Name,
            fixture.Path,
            fixture.Description,
            failures.Count == 0 ? Verdict.Passed : Verdict.Failed,
            guarantees,
            failures,
            StopLatency(log),
            duration,
            Timeline(log),
            [.. fixture.Sessions.Concat(fixture.Timeline.Where(a => a.Kind == ActionKind.Restart).Select(a => a.Session!))],
            transcriptPath,
            problems.Count > 0 ? problems[0].Detail : null);
    }

    private static ExpectationFailure? CheckEvents(EventExpectation expectation, RunLog log)
    {
        var id = log.IdOf(expectation.Session);
        var matching = log.Events.Where(e => e.Event.Name == expectation.Name && (expectation.Session is null || e.Event.SessionId == id)).ToList();
        var n = matching.Count;
        var held = (expectation.Count is not { } c || n == c) && (expectation.Min is not { } lo || n >= lo) && (expectation.Max is not { } hi || n <= hi);
        if (held)
        {
            return null;
        }

        // The first offending record: the first one past the allowed count, or none when too few came.
        var allowed = expectation.Count ?? expectation.Max ?? int.MaxValue;
        var offending = n > allowed ? matching[allowed] : null;
        return new ExpectationFailure(
            expectation.ToString(),
            expectation.Session,
            $"seen {n}",
            offending is null ? null : Describe(offending, log),
            expectation.Mark.ToString());
    }

    private static ExpectationFailure? CheckTurn(TurnExpectation expectation, RunLog log)
    {
        var turns = log.Turns.Where(t => t.Session == expectation.Session).ToList();
        var turn = expectation.Turn is { } n ? turns.FirstOrDefault(t => t.Number == n) : turns.LastOrDefault();
        if (turn is null)
        {
            return new ExpectationFailure(expectation.ToString(), expectation.Session, "no such turn: the session was never prompted", null, expectation.Mark.ToString());
        }

        var held = expectation.Refused
            ? turn.Refusal is not null
            : turn.Ended && turn.Outcome is { } o && (expectation.End is not { } end || o.End == end) && (expectation.StopReason is null || o.StopReason == expectation.StopReason);
        return held ? null : new ExpectationFailure(expectation.ToString(), expectation.Session, $"it ended otherwise", turn.ToString(), expectation.Mark.ToString());
    }

    private static ExpectationFailure? CheckWithin(WithinExpectation expectation, RunLog log)
    {
        var id = log.IdOf(expectation.Session);
        TimeSpan? from = ActionNames.ByName.ContainsKey(expectation.From)
            ? log.Actions.Where(a => a.Action.Name == expectation.From && (expectation.Session is null || a.SessionId == id || a.SessionId is null)).Select(a => (TimeSpan?)a.At).FirstOrDefault()
            : log.Events.Where(e => e.Event.Name == expectation.From && (expectation.Session is null || e.Event.SessionId == id)).Select(e => (TimeSpan?)e.At).FirstOrDefault();
        if (from is not { } start)
        {
            return new ExpectationFailure(expectation.ToString(), expectation.Session, $"'{expectation.From}' never happened", null, expectation.Mark.ToString());
        }

        var to = log.Events.FirstOrDefault(e => e.At >= start && e.Event.Name == expectation.To && (expectation.Session is null || e.Event.SessionId == id));
        if (to is null)
        {
            return new ExpectationFailure(expectation.ToString(), expectation.Session, $"'{expectation.To}' never came after '{expectation.From}' at {TranscriptWriter.Seconds(start)}s", null, expectation.Mark.ToString());
        }

        var took = to.At - start;
        return took <= expectation.Max
            ? null
            : new ExpectationFailure(expectation.ToString(), expectation.Session, $"it took {took.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)}ms", Describe(to, log), expectation.Mark.ToString());
    }

    /// <summary>From the first interrupt to the last ack or escalation at or after it.</summary>
    private static TimeSpan? StopLatency(RunLog log)
    {
        var first = log.Actions.FirstOrDefault(a => a.Action.Kind is ActionKind.Interrupt or ActionKind.InterruptAll);
        if (first is null)
        {
            return null;
        }

        var last = log.Events.LastOrDefault(e => e.At >= first.At && e.Event is AckReceived or Escalated);
        return last is null ? null : last.At - first.At;
    }

    private static string Describe(RecordedEvent recorded, RunLog log) =>
        $"{TranscriptWriter.Seconds(recorded.At)}s {Lane(recorded.Event, log)} {recorded.Event.Name} {Detail(recorded.Event)}".TrimEnd();

    private static IReadOnlyList<TimelineEntry> Timeline(RunLog log)
    {
        var entries = log.Actions.Select(a => new TimelineEntry(a.At, a.Action.Session ?? "host", a.Action.Name, a.Error ?? string.Empty))
            .Concat(log.Events.Select(e => new TimelineEntry(e.At, Lane(e.Event, log), e.Event.Name, Detail(e.Event))));
        if (log.KillHost is { } kill)
        {
            entries = entries.Append(new TimelineEntry(kill.At, "host", "sweep", $"killed {kill.Killed}, survivors {kill.Survivors}"));
        }

        return [.. entries.OrderBy(e => e.At)];
    }

    private static string Lane(ContainmentEvent e, RunLog log) => e switch
    {
        { SessionId: { } id } => log.NameOf(id),
        AgentStarted or AgentExited or AgentWedged or AgentRestarted => "agent",
        _ => "host",
    };

    /// <summary>A short detail without timestamps, pids or latencies, so that deterministic fixtures give the same timeline every run.</summary>
    internal static string Detail(ContainmentEvent e) => e switch
    {
        ToolDispatched d => $"{d.ToolCallId} {d.Tool}",
        ToolSkipped s => $"{s.ToolCallId} {s.Tool}",
        ToolCompleted c => $"{c.ToolCallId} {c.Tool} {c.Result}",
        ToolHangCanceled h => $"{h.ToolCallId} {h.ToolName}: {h.Reason}",
        PermissionRequested p => $"{p.ToolCallId} {p.Title}",
        PermissionAnswered p => $"{p.ToolCallId} {p.Outcome}",
        TurnStarted t => $"turn {t.Turn}",
        TurnEnded t => $"{t.Outcome.End}{(t.Outcome.StopReason is null ? string.Empty : $" ({t.Outcome.StopReason})")}",
        AckReceived a => $"{a.StopReason}{(a.Deviation ? " (deviation)" : string.Empty)}",
        InterruptRequested i => i.Global ? "all" : string.Empty,
        AgentExited x => x.Signal is { } signal ? $"signal {signal}" : x.ExitCode is { } code ? $"exit {code}" : x.Reason,
        AgentRestarted r => $"attempt {r.Attempt} of {r.Budget}",
        Escalated x => x.Reason,
        ProtocolViolation v => v.Reason,
        SessionCreated s => s.CreatedInterrupted ? "created interrupted" : string.Empty,
        _ => string.Empty,
    };
}
