using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Scenarios;

/// <summary>An event and when it came, relative to the run's start.</summary>
internal sealed record RecordedEvent(TimeSpan At, ContainmentEvent Event);

/// <summary>A timeline action as it ran: when, how long the call took, and what went wrong (null when nothing).</summary>
internal sealed record ActionRecord(TimelineAction Action, string? SessionId, TimeSpan At, TimeSpan Took, string? Error);

/// <summary>One prompt turn as the runner saw it.</summary>
internal sealed class TurnRecord(string session, string sessionId, int number, TimeSpan startedAt)
{
    public string Session { get; } = session;

    public string SessionId { get; } = sessionId;

    /// <summary>1-based, per session, counting refused prompts too.</summary>
    public int Number { get; } = number;

    public TimeSpan StartedAt { get; } = startedAt;

    public TimeSpan? EndedAt { get; set; }

    public TurnOutcome? Outcome { get; set; }

    /// <summary>Why the bridge refused the prompt (it threw instead of running a turn).</summary>
    public string? Refusal { get; set; }

    /// <summary>The turn had not ended when the runner's wait for the turns ran out (then the bridge was stopped).</summary>
    public bool PendingAtBound { get; set; }

    public bool Ended => EndedAt is not null && !PendingAtBound;

    /// <summary>kill_host SIGKILLed the host while the turn ran (<see cref="EndedAt"/> is then the host's death as the runner saw it): nobody's turn to end.</summary>
    public bool CutByKillHost { get; set; }

    public override string ToString() =>
        $"{Session} turn {Number}: " + (Outcome is { } o ? $"{o.End}{(o.StopReason is null ? string.Empty : $" ({o.StopReason})")}{(o.Reason is null ? string.Empty : $": {o.Reason}")}"
            : Refusal is { } r ? $"refused: {r}" : CutByKillHost ? "cut by kill_host" : "never ended");
}

/// <summary>The timers armed on the bridge's clock at <paramref name="At"/>, by owner (one entry per timer).</summary>
internal sealed record TimerSample(TimeSpan At, IReadOnlyList<string> Armed);

/// <summary>What G7 saw after kill_host: the sweep and whether any process still carries the dead host's cookie.</summary>
internal sealed record KillHostRecord(TimeSpan At, int Killed, int Survivors, IReadOnlyList<string> CarrierCookies, string? Error);

/// <summary>Everything a run observed, for the guarantee and expectation checks.</summary>
internal sealed record RunLog(
    Fixture Fixture,
    BridgeOptions Options,
    IReadOnlyDictionary<string, string> SessionIds,
    IReadOnlyList<RecordedEvent> Events,
    IReadOnlyList<ActionRecord> Actions,
    IReadOnlyList<TurnRecord> Turns,
    IReadOnlyList<AuditRecord> Audit,
    IReadOnlyList<(TimeSpan At, string SessionId, string ToolCallId)> ToolActivity,
    KillHostRecord? KillHost)
{
    /// <summary>
    /// The runner's wire tap, one record per agent process the bridge started: the raw lines both ways, the bridge's
    /// own wire line numbers beside them, the stops it asked for and the process's exit. For kill_host, the host's tap
    /// as it streamed it (rebuilt by <see cref="TapReplay"/>), up to the kill. The evidence of G1, G3, G4, G8 and G9.
    /// </summary>
    public IReadOnlyList<TapConnectionRecord> Wire { get; init; } = [];

    /// <summary>The fake agent's own account, by connection index (script agents only).</summary>
    public IReadOnlyDictionary<int, AgentAccountRecord> Accounts { get; init; } = new Dictionary<int, AgentAccountRecord>();

    /// <summary>The audit log as read back from its file after the bridge stopped (G8); null when there is none.</summary>
    public IReadOnlyList<AuditRecord>? AuditFile { get; init; }

    /// <summary>Why the audit file could not be read back.</summary>
    public string? AuditFileError { get; init; }

    /// <summary>The timers armed on the bridge's clock once every turn had ended, before the bridge stopped (G4); null when not sampled.</summary>
    public TimerSample? Timers { get; init; }

    /// <summary>When the runner began stopping the bridge (after the timeline and the turns); for kill_host, <see cref="HostCutAt"/>.</summary>
    public TimeSpan? StoppedAt { get; init; }

    /// <summary>
    /// kill_host only: when the host sent its state and asked to be killed. Everything the host recorded before is in
    /// its stream ahead of the state, and the runner kills only once it has read the state, so the evidence streamed
    /// from the host (its tap, events, wire lines) is whole up to here; after it the host ran on until the SIGKILL, and
    /// what it saw then reached the runner in part or not at all. The agents' accounts and the audit file are read from
    /// disk after the kill and hold more. The oracles' rule for what the kill cut (GuaranteeChecks.EvidenceEnd and the
    /// checks that use it): everything that is in the evidence is judged as in-process — a second answer, a result after
    /// an interrupt, a line the bridge's reader went past, a deadline missed before the cut; what is missing is excused
    /// only when it could have come after the cut less <see cref="GuaranteeChecks.Tolerance"/> — a request still being
    /// handled then (per the audit file) or refused then, an ack or watchdog cancel not yet due, a write call with no
    /// return in the stream (counted as not delivered), lines the agent read that the stream does not show written. A
    /// SIGKILLed host's audit file holds what it wrote to the OS, a prefix of its log in sequence order: a tool call's
    /// terminal record is owed to the file only when the tap saw its answer and the file holds a record appended more
    /// than the tolerance after that answer (a terminal record is appended before its answer is written).
    /// </summary>
    public TimeSpan? HostCutAt { get; init; }

    /// <summary>The run's start on the bridge's wall clock: audit records (UTC) are placed on the run's timeline from it.</summary>
    public DateTimeOffset StartedUtc { get; init; }

    /// <summary>When an audit record was written, on the run's timeline.</summary>
    public TimeSpan AtOf(AuditRecord record) => record.At - StartedUtc;

    /// <summary>The OS's account (process tree, agents' exit times, leftovers) for G5, G7 and "nothing left running"; null when not collected.</summary>
    public Os.OsEvidence? Os { get; init; }

    public string NameOf(string? sessionId) =>
        sessionId is null ? "host" : SessionIds.FirstOrDefault(p => p.Value == sessionId).Key ?? sessionId;

    public string? IdOf(string? session) => session is null ? null : SessionIds.GetValueOrDefault(session);
}
