using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Scenarios.Os;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The guarantees of DESIGN.md §5 read off a run: each returns null when it held, else its first offending record.
/// Each is vacuously held when what it is about did not happen (G5 when no agent died during the run). G5 and G7 read
/// the OS's evidence (<see cref="OsEvidence"/>) where there is some; G1, G3, G4, G8 and G9 rest on the wire tap,
/// the agent's own account and the audit file (GuaranteeChecks.Evidence.cs).
/// </summary>
internal static partial class GuaranteeChecks
{
    /// <summary>Slack for "at once" and for timers measured by the runner rather than by the bridge.</summary>
    private static readonly TimeSpan s_slack = TimeSpan.FromMilliseconds(500);

    public static IReadOnlyList<string> All { get; } = ["G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9"];

    public static string Title(string id) => id switch
    {
        "G1" => "no dispatch after interrupt",
        "G2" => "isolation",
        "G3" => "bounded ack",
        "G4" => "watchdog precision",
        "G5" => "agent death is seen at once",
        "G6" => "wedged pipes never wedge the host",
        "G7" => "orphan sweep is complete",
        "G8" => "nothing lost",
        _ => "hostile input is contained",
    };

    public static string? Check(string id, RunLog log) => id switch
    {
        "G1" => NoDispatchAfterInterrupt(log),
        "G2" => Isolation(log),
        "G3" => BoundedAck(log),
        "G4" => WatchdogPrecision(log),
        "G5" => AgentDeath(log),
        "G6" => Wedged(log),
        "G7" => Orphans(log),
        "G8" => NothingLost(log),
        _ => Hostile(log),
    };

    /// <summary>G2: a session the user did not interrupt (nor a watchdog, nor stop, nor an agent death) has no skipped or canceled call, and its turns end Completed.</summary>
    private static string? Isolation(RunLog log)
    {
        var touched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var action in log.Actions)
        {
            if (action.Action.Kind == ActionKind.Interrupt && action.SessionId is not null)
            {
                touched.Add(action.SessionId);
            }
            else if (action.Action.Kind is ActionKind.InterruptAll or ActionKind.Stop or ActionKind.KillHost)
            {
                // Every session that existed then was stopped on purpose.
                touched.UnionWith(log.Actions.Where(a => a.At <= action.At && a.SessionId is not null).Select(a => a.SessionId!));
                touched.UnionWith(log.Fixture.Sessions.Select(log.IdOf).OfType<string>());
            }
        }

        touched.UnionWith(log.Events.Select(e => e.Event).OfType<ToolHangCanceled>().Select(e => e.Id));
        if (log.Events.Any(e => e.Event is AgentExited or AgentWedged))
        {
            return null; // An agent death ends every session's turn: isolation is G5's business then.
        }

        var record = log.Audit.FirstOrDefault(r => r.SessionId is { } s && !touched.Contains(s) && r.Kind is AuditKind.Skipped or AuditKind.Canceled or AuditKind.Interrupted);
        if (record is not null)
        {
            return $"G2: session {log.NameOf(record.SessionId)} was not interrupted, yet its audit log has '{record.Kind.WireName()}' for {record.ToolCallId ?? "the session"} at seq {record.Seq} ({record.Detail})";
        }

        var turn = log.Turns.FirstOrDefault(t => !touched.Contains(t.SessionId) && t.Outcome?.End != TurnEnd.Completed);
        return turn is null ? null : $"G2: session {turn.Session} was not interrupted, yet {turn}";
    }

    /// <summary>
    /// How late after the OS saw an agent exit its <c>AgentExited</c>, and the end of every turn pending then, may come
    /// (G5). The bridge's own reap grace is 250 ms; the rest absorbs a loaded 2-core machine's scheduling. A bridge that
    /// waits for end of file (a descendant holds the pipe) or for a timeout is late by seconds to minutes.
    /// </summary>
    internal static readonly TimeSpan AgentDeathTolerance = TimeSpan.FromSeconds(2);

    /// <summary>
    /// G5 on the OS's evidence: each agent death the OS reported during the run (its pidfd, else the first sample that
    /// found it gone) is followed, within <see cref="AgentDeathTolerance"/>, by the bridge's <c>AgentExited</c> (the
    /// k-th death by the k-th: agents run one after another), and every turn pending at that moment ended within the
    /// same tolerance, never as a timeout. Deaths after the run ended (the runner stopped the bridge, or killed the host)
    /// are the runner's doing. Without OS evidence, the bridge's own view (<see cref="AgentDeathByBridge"/>).
    /// </summary>
    private static string? AgentDeath(RunLog log)
    {
        if (log.Os is not { Unavailable: null } os)
        {
            return AgentDeathByBridge(log);
        }

        var exits = log.Events.Where(e => e.Event is AgentExited).ToList();
        var deaths = os.AgentDeaths.Where(d => d.At < os.RunEndedAt).OrderBy(d => d.At).ToList();
        var tolerance = Durations.Format(AgentDeathTolerance);
        for (var i = 0; i < deaths.Count; i++)
        {
            var death = deaths[i];
            var deadline = death.At + AgentDeathTolerance;
            var seen = $"the OS saw {death}";
            if (i >= exits.Count)
            {
                return $"G5: {seen}, but the bridge never published AgentExited for it{PendingAt(log, death.At)}";
            }

            if (exits[i].At > deadline)
            {
                return $"G5: {seen}, but AgentExited came only at {TranscriptWriter.Seconds(exits[i].At)}s (tolerance {tolerance}){PendingAt(log, death.At)}";
            }

            foreach (var turn in PendingTurns(log, death.At))
            {
                if (!turn.Ended || turn.EndedAt > deadline)
                {
                    var ended = turn.Ended ? $"only ended at {TranscriptWriter.Seconds(turn.EndedAt!.Value)}s" : "never ended";
                    return $"G5: {seen}, and {turn.Session} turn {turn.Number}, pending then, {ended} (tolerance {tolerance}): {turn}";
                }

                if (turn.Outcome?.Reason?.Contains("timed out", StringComparison.OrdinalIgnoreCase) == true)
                {
                    return $"G5: {seen}, and {turn.Session} turn {turn.Number} ended as a timeout: {turn}";
                }
            }
        }

        return null;
    }

    /// <summary>The turns running at <paramref name="at"/> (started, not yet ended; not cut by kill_host).</summary>
    private static IEnumerable<TurnRecord> PendingTurns(RunLog log, TimeSpan at) =>
        log.Turns.Where(t => t.Refusal is null && !t.CutByKillHost && t.StartedAt <= at && !(t.Ended && t.EndedAt < at));

    private static string PendingAt(RunLog log, TimeSpan at) =>
        PendingTurns(log, at).ToList() is { Count: > 0 } pending
            ? $"; pending then: {string.Join(", ", pending.Select(t => $"{t.Session} turn {t.Number} ({(t.Ended ? $"ended at {TranscriptWriter.Seconds(t.EndedAt!.Value)}s: {t}" : t.Outcome is null ? "never ended" : $"not ended within the runner's wait; then {t}")})"))}"
            : string.Empty;

    /// <summary>G5 without OS evidence (no /proc): the bridge's own view — after each AgentExited, every turn pending then ended at once, never by a timeout.</summary>
    private static string? AgentDeathByBridge(RunLog log)
    {
        foreach (var exit in log.Events.Where(e => e.Event is AgentExited))
        {
            foreach (var turn in log.Turns.Where(t => t.Outcome is not null && t.StartedAt <= exit.At && (t.EndedAt ?? TimeSpan.MaxValue) >= exit.At))
            {
                var outcome = turn.Outcome!;
                if (outcome.End is not (TurnEnd.AgentExited or TurnEnd.Escalated or TurnEnd.Cancelled or TurnEnd.Completed))
                {
                    return $"G5: the agent exited at {TranscriptWriter.Seconds(exit.At)}s, and {turn}";
                }

                if (turn.EndedAt - exit.At > s_slack + TimeSpan.FromSeconds(1))
                {
                    return $"G5: the agent exited at {TranscriptWriter.Seconds(exit.At)}s, but {turn} only ended at {TranscriptWriter.Seconds(turn.EndedAt!.Value)}s";
                }

                if (outcome.Reason?.Contains("timed out", StringComparison.OrdinalIgnoreCase) == true)
                {
                    return $"G5: the agent exited, and {turn} ended as a timeout";
                }
            }
        }

        return null;
    }

    /// <summary>
    /// G6: after AgentWedged every turn ended, and no interrupt waited on the full pipe. The check is causal, not a time
    /// limit: an interrupt made before the wedge was declared must have returned before it. One that waited on the pipe
    /// could only return once the stall timer had declared the agent wedged and killed it.
    /// </summary>
    private static string? Wedged(RunLog log)
    {
        if (log.Events.FirstOrDefault(e => e.Event is AgentWedged) is not { } wedged)
        {
            return null;
        }

        if (log.Turns.FirstOrDefault(t => !t.Ended) is { } pending)
        {
            return $"G6: the agent was wedged and {pending.Session} turn {pending.Number} never ended";
        }

        var waited = log.Actions.FirstOrDefault(a =>
            a.Action.Kind is ActionKind.Interrupt or ActionKind.InterruptAll && a.At < wedged.At && a.At + a.Took >= wedged.At);
        return waited is null ? null
            : $"G6: {waited.Action.Name} at {waited.Action.Mark} returned only after the agent was declared wedged ({TranscriptWriter.Seconds(wedged.At)}s): it waited on the pipe";
    }

    /// <summary>
    /// G7: after kill_host and the sweep no process carries the dead host's cookie, and — on the OS's process tree, not
    /// through cookies — nothing the run started outlived it (<see cref="NothingLeftRunning"/>): the host's whole tree
    /// for kill_host (agent, descendants that called setsid or were reparented, terminals), the agents' trees otherwise.
    /// </summary>
    private static string? Orphans(RunLog log) => log.KillHost switch
    {
        { Error: { } error } => $"G7: {error}",
        { CarrierCookies.Count: > 0 } k => $"G7: after the sweep (killed {k.Killed}, survivors {k.Survivors}) processes still carry cookie {k.CarrierCookies[0]}",
        _ => NothingLeftRunning(log) is { } leftover ? "G7: " + leftover : null,
    };

    /// <summary>
    /// Every process of the run's tree the runner ever saw (the reaper aside) is gone once the run ended: the bridge
    /// stopped (or, for kill_host, the host was killed and the sweep ran), plus <see cref="OsEvidence.SettleBound"/>.
    /// Each leftover is named with its pid, command line and when it was first seen. Null without OS evidence.
    /// </summary>
    internal static string? NothingLeftRunning(RunLog log)
    {
        if (log.Os is not { Unavailable: null, Leftovers: { Count: > 0 } leftovers } os)
        {
            return null;
        }

        var after = log.KillHost is null ? "the bridge stopped" : "the host was killed and the sweep ran";
        return $"{leftovers.Count} process{(leftovers.Count == 1 ? string.Empty : "es")} of the run still alive {Durations.Format(os.SettleBound)} after {after}: "
            + string.Join("; ", leftovers.Take(5).Select(p => p.ToString()));
    }
}
