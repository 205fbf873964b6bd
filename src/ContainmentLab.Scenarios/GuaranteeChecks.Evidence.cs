using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The oracles that rest on evidence the bridge cannot fake (DESIGN.md §5): the runner's byte-level wire tap (what the
/// bridge really read and wrote, split into lines outside its parser), the fake agent's own account, the OS's exit of
/// the agent process (as its transport saw it), the audit log read back from its file, and the timers armed on the
/// bridge's clock. The bridge's own view (its events, its line numbers) is only ever what is checked, or an excuse
/// that the evidence must confirm.
/// </summary>
internal static partial class GuaranteeChecks
{
    /// <summary>
    /// How late the runner may see something the bridge does on a timer (a watchdog cancel, an escalation after
    /// AckTimeout) or right after a step (an answer written once its handling ended), on a loaded 2-core machine.
    /// It covers what lies between the bridge's own moment and the runner's stamp of it: the timer's callback waiting
    /// for a thread-pool thread, the line waiting in the bridge's single writer, and the tap's stamp itself. Measured on
    /// the 2-core machine shared with six other sessions building and testing (load average 2 to 5): 24 watchdog
    /// cancels over 8 rounds of the watchdog fixtures came 0 to 12 ms after the deadline the tap gives, every escalation
    /// within 2 ms of AckTimeout. The bound is far above that because what makes a loaded machine late is not the
    /// average: a starved thread pool adds a thread only about every 0.5 s, and one such wait must fit, with room.
    /// Early is never tolerated: the bridge reads every line after the tap does, so a deadline computed from the tap is
    /// never later than the bridge's own.
    /// </summary>
    public static TimeSpan Tolerance { get; } = TimeSpan.FromSeconds(1);

    /// <summary>What a guarantee's oracle rests on, and its tolerance, for reports (null for the oracles of other files).</summary>
    public static string? Evidence(string id) => id switch
    {
        "G1" => "wire tap: every tool or permission request that arrived after interrupt/interrupt_all returned got an error or 'cancelled'; the agent's account: every call it sent after reading session/cancel got an error; audit file order",
        "G3" => $"wire tap: each prompt's answer came within AckTimeout + {Durations.Format(Tolerance)} of its session/cancel line, or the bridge stopped the agent (or the agent died) by then",
        "G4" => $"wire tap: each watchdog cancel not before the deadline its tool_call/tool_call_update lines give, not after it + {Durations.Format(Tolerance)}; the bridge's clock: no watchdog timer armed after the turns beyond the calls unanswered",
        "G8" => "wire tap + audit file: each tool call the agent asked for has exactly one terminal record in the file on disk",
        "G9" => "wire tap: every line the agent wrote handed on by the bridge's reader (same number, length, hash), every request answered once; the agent's account agrees with the tap",
        _ => null,
    };

    private static bool IsToolMethod(string? method) =>
        method is "_containmentlab/tool" || method?.StartsWith("fs/", StringComparison.Ordinal) == true || method?.StartsWith("terminal/", StringComparison.Ordinal) == true;

    private static bool IsPermission(string? method) => method == "session/request_permission";

    private static string At(TimeSpan at) => TranscriptWriter.Seconds(at) + "s";

    /// <summary>
    /// From when the evidence may lack what the bridge did — the moment the oracles count the run as stopped, for
    /// their "still being handled when stopped" excuses. In-process: when the runner began stopping the bridge (the tap
    /// then sees the rest). kill_host (<see cref="RunLog.HostCutAt"/>): the host's stream is whole up to the state it
    /// sent, less <see cref="Tolerance"/> — a record the host stamped just before the state may have been queued just
    /// after it (its thread preempted between the stamp and the queue) and be lost with the host.
    /// </summary>
    /// <remarks>
    /// The rule for what the kill cut: everything in the evidence is judged as in an in-process run, whenever it
    /// came (an answer twice, a result after interrupt, a line the bridge's reader went past — exact, from the order of
    /// the host's own stream); what is missing is excused only when it could have happened after this moment: a
    /// request the bridge was still handling then (per the audit file) or refused then, an ack or watchdog cancel due
    /// after it, a tool call's terminal record the file need not hold yet (<see cref="FileDebt"/>). A write call
    /// with no return in the stream counts as not delivered, and the agent may have read lines the stream does not show
    /// written (<see cref="AccountAgrees"/>).
    /// </remarks>
    private static TimeSpan? EvidenceEnd(RunLog log) => log.HostCutAt is { } cut ? cut - Tolerance : log.StoppedAt;

    /// <summary>
    /// G1 on the wire: every tool request (and permission request) of an interrupted session whose bytes the tap saw
    /// arrive after <c>interrupt</c>/<c>interrupt_all</c> returned got an error (a permission: <c>cancelled</c>), never a
    /// result. Causal, no tolerance: the tap stamps a read before the bridge parses it, and the action's return before
    /// the stamp. Then the agent's account: whatever it sent after it had received the session's <c>session/cancel</c>
    /// got an error, and the bridge sent it no prompt for that session after. The audit file's order is checked too.
    /// </summary>
    private static string? NoDispatchAfterInterrupt(RunLog log)
    {
        if (AuditChecks.NoDispatchAfterInterrupt(log.AuditFile ?? log.Audit).FirstOrDefault() is { } audit)
        {
            return audit;
        }

        foreach (var action in log.Actions.Where(a => a.Action.Kind is ActionKind.Interrupt or ActionKind.InterruptAll && a.Error is null))
        {
            var returned = action.At + action.Took;
            if (log.Wire.LastOrDefault(c => c.StartedAt <= action.At) is not { } connection)
            {
                continue;
            }

            var sessions = action.Action.Kind == ActionKind.Interrupt
                ? new HashSet<string>(StringComparer.Ordinal) { action.SessionId ?? string.Empty }
                : connection.Sessions().Where(s => s.AskedAt <= returned).Select(s => s.SessionId).ToHashSet(StringComparer.Ordinal);
            foreach (var (request, answers) in connection.AnswersByRequest())
            {
                if (request.At <= returned || request.Head.SessionId is not { } session || !sessions.Contains(session)
                    || !(IsToolMethod(request.Head.Method) || IsPermission(request.Head.Method)) || answers.FirstOrDefault() is not { } answer)
                {
                    continue;
                }

                var refused = answer.Head.HasError || (IsPermission(request.Head.Method) && answer.Head.PermissionOutcome == "cancelled");
                if (!refused && answer.Head.HasResult)
                {
                    var what = answer.Head.PermissionOutcome is { } outcome ? $"'{outcome}'" : "a result";
                    return $"G1: request {request.Head.Id} ('{request.Head.Method}'{ToolSuffix(request)}) of session {log.NameOf(session)} reached the bridge at {At(request.At)} "
                        + $"(agent {connection.Index}, wire line {request.Number}), after {action.Action.Name} returned at {At(returned)}, and was answered with {what} (line {answer.Number} to the agent)";
                }
            }
        }

        foreach (var (index, account) in log.Accounts)
        {
            foreach (var sent in account.Sent.Where(s => s.AfterCancel && (IsToolMethod(s.Method) || IsPermission(s.Method))))
            {
                if (account.Answers.FirstOrDefault(a => a.Known && a.Id == sent.Id) is { Error: null } answer
                    && !(IsPermission(sent.Method) && answer.Outcome == "cancelled"))
                {
                    return $"G1: the agent's account (agent {index}): it sent request {sent.Id} ('{sent.Method}', its line {sent.Line}) after it had received session/cancel for {log.NameOf(sent.Session)}, "
                        + $"and the bridge answered it with {(answer.Outcome is { } o ? $"'{o}'" : "a result")} (its input line {answer.Line})";
                }
            }

            if (account.Received.FirstOrDefault(r => r.AfterCancel && r.Method == "session/prompt") is { } prompt)
            {
                return $"G1: the agent's account (agent {index}): the bridge sent it a prompt for {log.NameOf(prompt.Session)} (its input line {prompt.Line}) after that session's session/cancel";
            }
        }

        return null;
    }

    private static string ToolSuffix(TapLine request) => request.Head.ToolName is { } name ? " " + name : string.Empty;

    /// <summary>
    /// G3 on the wire: every turn ended; for each <c>session/cancel</c> the bridge wrote while its session's prompt was
    /// unanswered, the agent's answer to that prompt (the ack) came within AckTimeout of the cancel line, or the bridge
    /// stopped the agent (escalation) by then, or the agent went away by itself — each within <see cref="Tolerance"/>.
    /// </summary>
    private static string? BoundedAck(RunLog log)
    {
        if (log.Turns.FirstOrDefault(t => !t.Ended) is { } pending)
        {
            return $"G3: {pending.Session} turn {pending.Number} (started at {At(pending.StartedAt)}) had not ended when the runner stopped waiting";
        }

        var ackTimeout = log.Options.AckTimeout;
        foreach (var connection in log.Wire)
        {
            var acked = new HashSet<string>(StringComparer.Ordinal);
            foreach (var cancel in connection.Cancels)
            {
                var prompt = connection.ToAgent.Lines.LastOrDefault(l => l.Head is { Kind: LineKind.Request, Method: "session/prompt" } && l.Head.SessionId == cancel.Head.SessionId && l.At <= cancel.At);
                if (prompt is null || !acked.Add(prompt.Head.Id!))
                {
                    continue; // no prompt of that session, or a second cancel of the same turn
                }

                var ack = connection.FromAgent.Lines.FirstOrDefault(l => l.Head.Kind == LineKind.Response && l.Head.Id == prompt.Head.Id && l.At >= prompt.At);
                if (ack is not null && ack.At <= cancel.At)
                {
                    continue; // the turn had ended before the cancel went out: no ack was owed
                }

                var bound = cancel.At + ackTimeout + Tolerance;
                if (ack is not null && ack.At <= bound)
                {
                    continue;
                }

                var ended = Earliest(connection.GaveUpAt, connection.AgentGoneAt, EvidenceEnd(log));
                if (ended is { } end && end <= bound && (ack is null || end <= ack.At))
                {
                    continue; // escalated (the bridge stopped the agent), the agent died, or the run was stopped — in time
                }

                var session = log.NameOf(cancel.Head.SessionId);
                return ack is not null
                    ? $"G3: session {session}'s ack (the answer to prompt {prompt.Head.Id}, agent {connection.Index} wire line {ack.Number}) came {Durations.Format(ack.At - cancel.At)} after the session/cancel "
                        + $"(bridge line {cancel.Number} at {At(cancel.At)}), over AckTimeout {Durations.Format(ackTimeout)} + {Durations.Format(Tolerance)}, and the bridge had not stopped the agent"
                    : $"G3: session {session}'s prompt {prompt.Head.Id} was never answered after the session/cancel (bridge line {cancel.Number} at {At(cancel.At)}), and the bridge did not stop the agent "
                        + $"within AckTimeout {Durations.Format(ackTimeout)} + {Durations.Format(Tolerance)}" + (ended is { } e ? $" (the first stop came at {At(e)})" : string.Empty);
            }
        }

        return null;
    }

    /// <summary>
    /// G4 both ways, from the tap: each agent-side tool's deadline is computed from its <c>tool_call</c> and
    /// <c>tool_call_update</c> lines as the tap saw them (<c>max(start + ToolTimeout, last activity + ActivityWindow)</c>,
    /// capped by MaxToolDuration); its watchdog cancel (the <c>ToolHangCanceled</c> event, and the <c>session/cancel</c>
    /// line the tap saw) comes no earlier than that deadline and no later than deadline + <see cref="Tolerance"/>; a tool
    /// still running past deadline + tolerance without one is a missed cancel. Host tools (whose activity is not on the
    /// wire) are checked for "not before start + ToolTimeout" and, with a cap, "not after start + cap + tolerance". Then
    /// the bridge's clock: once every turn ended, no more watchdog timers are armed than tool calls still unanswered.
    /// </summary>
    private static string? WatchdogPrecision(RunLog log)
    {
        var watchdog = log.Options.Watchdog;
        var hangs = log.Events.Where(e => e.Event is ToolHangCanceled).Select(e => (e.At, Hang: (ToolHangCanceled)e.Event)).ToList();
        foreach (var connection in log.Wire)
        {
            var mine = hangs.Where(h => h.At >= connection.StartedAt && (connection.EndedAt is not { } end || h.At <= end + Tolerance)).ToList();
            foreach (var tool in AgentTools(connection, log))
            {
                var cancels = mine.Where(h => h.Hang.SessionId == tool.SessionId && h.Hang.ToolCallId == tool.ToolCallId).ToList();
                var timeout = watchdog.TimeoutFor(tool.Name);
                var deadline = tool.Deadline(timeout, watchdog.ActivityWindow, watchdog.MaxToolDuration);
                var name = $"{tool.ToolCallId} ('{tool.Name}') of session {log.NameOf(tool.SessionId)}";
                if (cancels.Count > 1)
                {
                    return $"G4: {name} was cancelled by the watchdog {cancels.Count} times (at {At(cancels[0].At)} and {At(cancels[1].At)})";
                }

                if (cancels.Count == 1)
                {
                    var at = cancels[0].At;
                    if (at < deadline)
                    {
                        return $"G4: {name} was cancelled at {At(at)}, before its deadline {At(deadline)} ({tool.Describe()}, ToolTimeout {Durations.Format(timeout)}, ActivityWindow {Durations.Format(watchdog.ActivityWindow)})";
                    }

                    if (at > deadline + Tolerance)
                    {
                        return $"G4: {name} was cancelled at {At(at)}, {Durations.Format(at - deadline)} after its deadline {At(deadline)} ({tool.Describe()}), over the tolerance of {Durations.Format(Tolerance)}";
                    }

                    var line = connection.Cancels.FirstOrDefault(c => c.Head.SessionId == tool.SessionId && c.At >= tool.Start);
                    if (line is not null && (line.At < deadline || line.At > deadline + Tolerance))
                    {
                        return $"G4: the session/cancel for {name} went out at {At(line.At)} (bridge line {line.Number}), outside [{At(deadline)}, {At(deadline + Tolerance)}] ({tool.Describe()})";
                    }

                    continue;
                }

                if (watchdog.Enabled && (tool.End ?? EvidenceEnd(log) ?? connection.EndedAt) is { } over && over > deadline + Tolerance)
                {
                    return $"G4: {name} was still running at {At(over)}, {Durations.Format(over - deadline)} past its deadline {At(deadline)} ({tool.Describe()}), and the watchdog never cancelled it";
                }
            }

            foreach (var request in connection.Requests.Where(r => IsToolMethod(r.Head.Method)))
            {
                if (ToolKey(request) is not { } key || mine.FirstOrDefault(h => h.Hang.SessionId == key.Session && h.Hang.ToolCallId == key.ToolCallId) is not { Hang: not null } hang)
                {
                    continue;
                }

                // Its activity is not on the wire, but the start counts as activity: no deadline comes before max(timeout, window).
                var timeout = watchdog.TimeoutFor(HostToolName(request));
                var quiet = timeout > watchdog.ActivityWindow ? timeout : watchdog.ActivityWindow;
                var earliest = request.At + (watchdog.MaxToolDuration is { } cap && cap < quiet ? cap : quiet);
                if (hang.At < earliest)
                {
                    return $"G4: host tool {key.ToolCallId} ('{HostToolName(request)}', request {request.Head.Id} at {At(request.At)}) was cancelled at {At(hang.At)}, before {At(earliest)} "
                        + $"(ToolTimeout {Durations.Format(timeout)}, ActivityWindow {Durations.Format(watchdog.ActivityWindow)})";
                }

                if (watchdog.MaxToolDuration is { } hard && hang.At > request.At + hard + Tolerance)
                {
                    return $"G4: host tool {key.ToolCallId} ('{HostToolName(request)}') was cancelled at {At(hang.At)}, after its hard cap at {At(request.At + hard)} + {Durations.Format(Tolerance)}";
                }
            }
        }

        return LeakedTimers(log);
    }

    /// <summary>
    /// No heartbeat outlives its tool, from the bridge's clock (a counting TimeProvider, not the watchdog's counter): once
    /// every turn ended, the armed watchdog timers are at most the tool calls not yet answered then. A call's timer goes
    /// before its answer is written, so an answered call has none, and agent-side tools end with their turn.
    /// </summary>
    private static string? LeakedTimers(RunLog log)
    {
        if (log.Timers is not { } sample || log.Wire.Count == 0)
        {
            return null;
        }

        var watchdogTimers = sample.Armed.Count(o => o.StartsWith("ContainmentLab.Bridge.Watchdog", StringComparison.Ordinal));
        var running = log.Wire.Sum(c => c.AnswersByRequest().Count(p => IsToolMethod(p.Request.Head.Method) && p.Request.At <= sample.At && !p.Answers.Any(a => a.At <= sample.At)));
        return watchdogTimers <= running ? null
            : $"G4: {watchdogTimers} watchdog timer(s) still armed at {At(sample.At)}, after every turn had ended, with {running} tool call(s) unanswered: a timer outlived its tool (armed: {string.Join(", ", sample.Armed)})";
    }

    /// <summary>
    /// G8 on independent evidence: every tool call the tap saw the agent ask for (once per agent process and tool call
    /// id, as the bridge keys them) has exactly one terminal record in the audit log read back from its file; no call in
    /// the file is dispatched and never ended. A request the bridge never read because it had stopped the agent first
    /// is not held against it (G9 says when that is allowed), nor, for kill_host, a terminal record the killed host's
    /// file need not hold (<see cref="FileDebt"/>); more than one is a violation whenever it is.
    /// </summary>
    private static string? NothingLost(RunLog log)
    {
        if (log.Wire.Count == 0)
        {
            return AuditChecks.ExactlyOneTerminalRecord(log.Audit).FirstOrDefault();
        }

        if (log.AuditFileError is { } error)
        {
            return $"G8: the audit file could not be read back: {error}";
        }

        var file = log.AuditFile ?? log.Audit;
        var asked = new Dictionary<(string Session, string ToolCallId), List<(TapConnectionRecord Connection, TapLine Request)>>();
        foreach (var connection in log.Wire)
        {
            foreach (var request in connection.Requests.Where(r => IsToolMethod(r.Head.Method)))
            {
                // A line the bridge must refuse whole (malformed, too deep, over the limit) is hostile input, not a tool
                // call: it gets an error answer (G9) and no audit record.
                if (ToolKey(request) is not { } key || request.Head.Partial || request.Head.Depth > log.Options.Framing.MaxDepth
                    || request.Length > log.Options.Framing.MaxLineBytes || UnreadExcuse(connection, request, log) is not null)
                {
                    continue;
                }

                var calls = asked.TryGetValue(key, out var list) ? list : asked[key] = [];
                if (!calls.Any(c => c.Connection.Index == connection.Index))
                {
                    calls.Add((connection, request));
                }
            }
        }

        var records = file.Where(r => r.SessionId is not null && r.ToolCallId is not null)
            .GroupBy(r => (r.SessionId!, r.ToolCallId!))
            .ToDictionary(g => g.Key, g => g.ToList());
        var owed = new FileDebt(log, file);
        foreach (var (key, calls) in asked)
        {
            var kept = records.GetValueOrDefault(key) ?? [];
            var terminal = kept.Where(r => r.Kind.IsTerminal()).ToList();
            var (connection, request) = calls[Math.Min(terminal.Count, calls.Count - 1)];
            var call = $"tool call {key.ToolCallId} of session {log.NameOf(key.Session)} (request {request.Head.Id} '{request.Head.Method}'{ToolSuffix(request)}, agent {connection.Index} wire line {request.Number})";
            if (terminal.Count < calls.Count && !owed.Owed(connection, request, out _))
            {
                continue; // cut by the kill: the host may have appended it and died before writing it to the OS
            }

            if (terminal.Count < calls.Count)
            {
                return $"G8: {call} has no terminal record in the audit file" + (calls.Count > 1 ? $" ({terminal.Count} for {calls.Count} calls by that id)" : string.Empty)
                    + (owed.Owed(connection, request, out var why) && why is not null ? $"; {why}" : string.Empty);
            }

            if (terminal.Count > calls.Count)
            {
                return $"G8: {call} has {terminal.Count} terminal records in the audit file ({string.Join(", ", terminal.Select(r => $"seq {r.Seq} '{r.Kind.WireName()}'"))})"
                    + (calls.Count > 1 ? $" for {calls.Count} calls by that id" : string.Empty);
            }
        }

        foreach (var (key, kept) in records)
        {
            var dispatched = kept.Count(r => r.Kind == AuditKind.Dispatched);
            var terminal = kept.Count(r => r.Kind.IsTerminal());
            if (dispatched > terminal && (log.HostCutAt is null || (asked.GetValueOrDefault(key) is [.., var (connection, request)] && owed.Owed(connection, request, out _))))
            {
                var first = kept.First(r => r.Kind == AuditKind.Dispatched);
                return $"G8: tool call {key.Item2} of session {log.NameOf(key.Item1)} was dispatched (seq {first.Seq}) and never ended in the audit file";
            }
        }

        return null;
    }

    /// <summary>
    /// Which terminal records the audit file must hold. In-process, all: the runner reads it after the bridge was
    /// disposed, which writes what is pending. A SIGKILLed host's file holds what the host wrote to the OS: its log in
    /// sequence order up to its last write, each write carrying every record appended before it, and terminal records go
    /// out only with the next write (a dispatch, an interrupt's flush). A terminal record is appended before its call's
    /// answer is written; so it is owed when the tap saw that answer and the file holds a record appended more than
    /// <see cref="Tolerance"/> after it (the margin is for a stamp and a clock read on two threads): that record was
    /// appended later and written, so this one was written too. A call cut by the kill — still running, or ended with
    /// its record still in the host's buffer — is not held against the file; G9 holds its answer against the tap.
    /// </summary>
    private sealed class FileDebt(RunLog log, IReadOnlyList<AuditRecord> file)
    {
        private readonly Dictionary<int, Dictionary<long, IReadOnlyList<TapLine>>> _answers = [];
        private readonly TimeSpan? _lastWritten = file.Count == 0 ? null : file.Max(log.AtOf);

        /// <param name="why">For kill_host, why the record was owed (the answer and the later record), for the message.</param>
        public bool Owed(TapConnectionRecord connection, TapLine request, out string? why)
        {
            why = null;
            if (log.HostCutAt is null)
            {
                return true;
            }

            if (!_answers.TryGetValue(connection.Index, out var answers))
            {
                answers = _answers[connection.Index] = connection.AnswersByRequest().ToDictionary(p => p.Request.Number, p => p.Answers);
            }

            if (answers.GetValueOrDefault(request.Number) is not [var answer, ..] || _lastWritten is not { } last || last <= answer.At + Tolerance)
            {
                return false;
            }

            var later = file.First(r => log.AtOf(r) == last);
            why = $"the bridge answered it at {At(answer.At)} (line {answer.Number} to the agent), and the killed host's file holds seq {later.Seq} '{later.Kind.WireName()}', appended at {At(last)}, after it";
            return true;
        }
    }

    /// <summary>How the bridge keys a tool call in its audit log: the named session and the tool call id (<c>rpc-&lt;id&gt;</c> for ACP's fs and terminal methods).</summary>
    private static (string Session, string ToolCallId)? ToolKey(TapLine request) => request.Head switch
    {
        { Method: "_containmentlab/tool", SessionId: { } s, ToolCallId: { } t, ToolName: not null } => (s, t),
        { Method: { } m, SessionId: { } s, Id: { } id } when m != "_containmentlab/tool" && IsToolMethod(m) => (s, "rpc-" + id.Trim('"')),
        _ => null,
    };

    private static string HostToolName(TapLine request) => request.Head.Method == "_containmentlab/tool" ? request.Head.ToolName ?? "?" : request.Head.Method!;

    /// <summary>
    /// G9 on the wire. (1) Every line the agent wrote was read: the bridge's wire line numbers cover every line of the
    /// tap, each with the same length and hash (a line over the limit may be reported empty) — unless the bridge had not
    /// finished reading when it stopped the agent (see <see cref="UnreadExcuse"/>). (2) Every request in the tap was
    /// answered exactly once, unless the agent went away first or the bridge was still handling it when it stopped the
    /// agent. (3) The agent's account agrees with the tap: its requests are on the wire, each answered once, its line
    /// counts match. (4) No tool call was dispatched outside a turn of its session. (5) After a ProtocolViolation the
    /// bridge kept serving: every turn ended, none was refused.
    /// </summary>
    private static string? Hostile(RunLog log)
    {
        foreach (var connection in log.Wire)
        {
            var account = log.Accounts.GetValueOrDefault(connection.Index);
            var violation = LinesRead(connection, log) ?? RequestsAnswered(connection, log) ?? (account is null ? null : AccountAgrees(connection, account, log));
            if (violation is not null)
            {
                return violation;
            }
        }

        foreach (var (at, e) in log.Events.Select(r => (r.At, r.Event)).Where(r => r.Event is ToolDispatched))
        {
            var dispatched = (ToolDispatched)e;
            if (!log.Turns.Any(t => t.SessionId == dispatched.Id && t.StartedAt <= at && (t.EndedAt is null || t.EndedAt >= at)))
            {
                return $"G9: {dispatched.ToolCallId} ({dispatched.Tool}) was dispatched in session {log.NameOf(dispatched.Id)} at {TranscriptWriter.Seconds(at)}s, outside any turn of it";
            }
        }

        if (log.Events.FirstOrDefault(e => e.Event is ProtocolViolation) is not { } firstViolation)
        {
            return null;
        }

        var turn = log.Turns.FirstOrDefault(t => !t.Ended || (t.Outcome is null && t.Refusal is not null));
        return turn is null ? null : $"G9: after '{((ProtocolViolation)firstViolation.Event).Reason}' at {TranscriptWriter.Seconds(firstViolation.At)}s, {turn}";
    }

    /// <summary>G9 (1): the bridge's reader handed on every line of the tap, as the tap has it.</summary>
    private static string? LinesRead(TapConnectionRecord connection, RunLog log)
    {
        var limit = log.Options.Framing.MaxLineBytes;
        foreach (var line in connection.FromAgent.Lines)
        {
            if (connection.BridgeReads.TryGetValue(line.Number, out var read))
            {
                if (read.Repeated)
                {
                    return $"G9: the bridge handed on wire line {line.Number} of agent {connection.Index} more than once";
                }

                var same = (read.Length == line.Length && read.Hash == line.Hash) || (read.Length == 0 && line.Length > limit);
                if (!same)
                {
                    return $"G9: the bridge's wire line {line.Number} of agent {connection.Index} is not the agent's: the agent wrote {line.Describe()}, the bridge read {read.Length} bytes"
                        + (read.Length == line.Length ? " (other bytes)" : string.Empty);
                }

                continue;
            }

            if (UnreadExcuse(connection, line, log) is null)
            {
                var next = connection.FromAgent.CallAfter(line.Chunk);
                return line.Complete && next is not null
                    ? $"G9: the agent's wire line {line.Number} (agent {connection.Index}: {line.Describe()}) came off the pipe at {At(line.At)}, and the bridge's reader asked for more at {At(next.Start)} without ever handing it on: the line was lost"
                    : $"G9: the agent's last wire line {line.Number} (agent {connection.Index}: {line.Describe()}, no LF before its end of stream at {At(connection.FromAgent.EndedAt ?? line.At)}) was never handed on by the bridge's reader";
            }
        }

        return null;
    }

    /// <summary>
    /// Why a line the bridge never handed on is not held against it, or null when it is. The bridge's reader asks the
    /// pipe for more only once every complete line it holds was handed on: a line followed by another read was lost,
    /// whatever happened later. One not followed by a read is excused when the bridge stopped the agent (or the run was
    /// stopped) before its reader got there; a last fragment at end of stream only when that stop came first.
    /// </summary>
    private static string? UnreadExcuse(TapConnectionRecord connection, TapLine line, RunLog log)
    {
        if (connection.BridgeReads.ContainsKey(line.Number))
        {
            return null;
        }

        if (line.Complete && connection.FromAgent.CallAfter(line.Chunk) is not null)
        {
            return null;
        }

        var stopped = Earliest(connection.GaveUpAt, EvidenceEnd(log), log.Actions.Where(a => a.Action.Kind == ActionKind.Stop).Select(a => (TimeSpan?)a.At).FirstOrDefault());
        if (line.Complete)
        {
            return stopped is not null ? "the bridge stopped the agent before its reader got to the line" : null;
        }

        return connection.FromAgent.EndedAt is { } eof && stopped is { } s && s <= eof ? "the bridge stopped the agent before its end of stream" : null;
    }

    /// <summary>G9 (2): each request in the tap got exactly one answer, unless the agent went first or the bridge stopped it while still handling the request.</summary>
    private static string? RequestsAnswered(TapConnectionRecord connection, RunLog log)
    {
        var stopped = Earliest(connection.GaveUpAt, EvidenceEnd(log), log.Actions.Where(a => a.Action.Kind == ActionKind.Stop).Select(a => (TimeSpan?)a.At).FirstOrDefault());
        // A write still under way: in-process, for good; for kill_host, at least until the host's cut (its return may be lost with the host).
        var stillWriting = log.HostCutAt ?? TimeSpan.MaxValue;
        var blockedSince = connection.ToAgent.Calls.Where(c => (c.End ?? stillWriting) - c.Start > Tolerance).Select(c => (TimeSpan?)c.Start).FirstOrDefault();
        foreach (var (request, answers) in connection.AnswersByRequest())
        {
            var what = $"the agent's request {request.Head.Id} ('{request.Head.Method}'{ToolSuffix(request)}, agent {connection.Index} wire line {request.Number}, read at {At(request.At)})";
            if (answers.Count > 1)
            {
                return $"G9: {what} was answered {answers.Count} times (lines {string.Join(", ", answers.Select(a => a.Number))} to the agent)";
            }

            if (answers.Count == 1 || UnreadExcuse(connection, request, log) is not null)
            {
                continue;
            }

            if (connection.AgentDiedFirst && request.At <= connection.AgentGoneAt)
            {
                continue; // the agent went away (its process ended or its stdout closed) before the bridge stopped it
            }

            // When the bridge was done with it: its audit record, else (a quick refusal) when it arrived.
            var handled = HandledAt(request, log);
            if (stopped is { } stop && (handled is null || handled >= stop - Tolerance))
            {
                continue; // still being handled (or just done) when the bridge stopped the agent
            }

            if (blockedSince is { } blocked && (handled ?? request.At) >= blocked - Tolerance)
            {
                continue; // the agent did not read: the answer waited behind a write that made no progress
            }

            return $"G9: {what} was never answered" + (handled is { } h && h != request.At ? $", though the bridge was done with it at {At(h)} (audit file)" : string.Empty)
                + (log.HostCutAt is { } cut ? $"; the host's stream is whole up to its kill_host at {At(cut)}"
                    : stopped is { } s2 ? $"; the agent was stopped only at {At(s2)}" : string.Empty);
        }

        return null;
    }

    /// <summary>
    /// When the bridge had done with a request, on the run's timeline, from the audit file: a tool call's terminal record
    /// (null while it has only <c>dispatched</c>: still running), a permission's record (null before it: still asked);
    /// anything else, and a tool call with no record at all (refused as it came: a repeat, bad params), on arrival.
    /// </summary>
    private static TimeSpan? HandledAt(TapLine request, RunLog log)
    {
        var file = log.AuditFile ?? log.Audit;
        var since = request.At - Tolerance;
        if (IsToolMethod(request.Head.Method) && ToolKey(request) is { } key)
        {
            var records = file.Where(r => r.SessionId == key.Session && r.ToolCallId == key.ToolCallId && log.AtOf(r) >= since).ToList();
            return records.FirstOrDefault(r => r.Kind.IsTerminal()) is { } terminal ? log.AtOf(terminal)
                : records.Count > 0 ? null
                : request.At;
        }

        if (IsPermission(request.Head.Method))
        {
            return file.FirstOrDefault(r => r.Kind == AuditKind.Permission && r.RequestId == request.Head.Id && log.AtOf(r) >= since) is { } answered ? log.AtOf(answered) : null;
        }

        return request.At;
    }

    /// <summary>G9 (3): the fake agent's own account against the tap.</summary>
    private static string? AccountAgrees(TapConnectionRecord connection, AgentAccountRecord account, RunLog log)
    {
        var who = $"agent {connection.Index}'s own account";
        if (account.Problem is { } problem)
        {
            return $"G9: {who} is damaged: {problem}";
        }

        var lines = connection.FromAgent.Lines;
        var readToEnd = connection.FromAgent.EndedAt is not null;
        var tapAnswers = connection.AnswersByRequest().ToDictionary(p => p.Request.Number, p => p.Answers);
        foreach (var sent in account.Sent)
        {
            var line = sent.Line >= 1 && sent.Line <= lines.Count ? lines[(int)sent.Line - 1] : null;
            if (line is null)
            {
                if (readToEnd)
                {
                    return $"G9: {who} has request {sent.Id} ('{sent.Method}') on its output line {sent.Line}, but the tap read the agent's stdout to its end and saw {lines.Count} lines";
                }

                continue;
            }

            if (line.Head.Kind != LineKind.Request || line.Head.Id != sent.Id || line.Head.Method != sent.Method)
            {
                return $"G9: {who} has request {sent.Id} ('{sent.Method}') on its output line {sent.Line}, the tap has {line.Describe()} there";
            }

            var received = account.Answers.Count(a => a.Known && a.Id == sent.Id);
            if (received > 1)
            {
                return $"G9: {who}: its request {sent.Id} ('{sent.Method}', line {sent.Line}) was answered {received} times";
            }

            if (received == 0 && account.Exit?.Reason == "input ended" && tapAnswers.GetValueOrDefault(line.Number) is [var answer, ..] && connection.ToAgent.Delivered(answer))
            {
                return $"G9: {who}: the bridge wrote the answer to request {sent.Id} ('{sent.Method}', line {sent.Line}) at {At(answer.At)} (line {answer.Number} to the agent), and the agent read its stdin to the end without it";
            }
        }

        if (account.Exit is not { } exit)
        {
            return null;
        }

        var complete = lines.Count(l => l.Complete);
        var wrote = account.OutputClosedAfter ?? exit.LinesWritten;
        if (readToEnd && (exit.Crash ? complete < wrote : complete != wrote))
        {
            return $"G9: {who} says it wrote {wrote} lines ({exit.Reason}); the tap read {complete} from its stdout, to its end";
        }

        if (exit.Reason == "input ended")
        {
            var toAgent = connection.ToAgent;
            var delivered = toAgent.Lines.Count(l => l.Complete && toAgent.Delivered(l));
            var handed = toAgent.Lines.Count(l => l.Complete);

            // A killed host went on writing after its cut: the agent may have read lines its stream never showed.
            if (exit.LinesRead < delivered || (exit.LinesRead > handed && log.HostCutAt is null))
            {
                return $"G9: {who} says it read {exit.LinesRead} lines to the end of its stdin; the tap saw the bridge write {delivered}" + (handed != delivered ? $" ({handed} with writes that failed or never returned)" : string.Empty);
            }
        }

        return null;
    }

    private static TimeSpan? Earliest(params TimeSpan?[] times)
    {
        TimeSpan? earliest = null;
        foreach (var time in times)
        {
            if (time is { } t && (earliest is null || t < earliest))
            {
                earliest = t;
            }
        }

        return earliest;
    }

    /// <summary>The agent-side tools of one connection as the tap saw them, each with what the bridge's watchdog counts as its start and activity.</summary>
    private static List<AgentTool> AgentTools(TapConnectionRecord connection, RunLog log)
    {
        var tools = new List<AgentTool>();
        var open = new Dictionary<(string, string), AgentTool>();
        var prompts = connection.ToAgent.Lines.Where(l => l.Head is { Kind: LineKind.Request, Method: "session/prompt", SessionId: not null }).ToList();
        var answers = connection.FromAgent.Lines.Where(l => l.Head.Kind == LineKind.Response && l.Head.Id is not null).ToList();
        foreach (var line in connection.FromAgent.Lines)
        {
            if (line.Head is not { Method: "session/update", SessionId: { } session, ToolCallId: { } id, UpdateKind: "tool_call" or "tool_call_update" } head)
            {
                continue;
            }

            // Only while a turn of the session runs (prompt written, not yet answered) and before its cancel: the bridge drops the rest.
            var prompt = prompts.LastOrDefault(p => p.Head.SessionId == session && p.At <= line.At);
            var promptAnswered = prompt is null ? null : answers.FirstOrDefault(a => a.Head.Id == prompt.Head.Id && a.At >= prompt.At)?.At;
            var cancelled = prompt is null ? null : connection.Cancels.FirstOrDefault(c => c.Head.SessionId == session && c.At >= prompt.At)?.At;
            if (prompt is null || promptAnswered <= line.At || cancelled <= line.At)
            {
                continue;
            }

            var finished = head.UpdateStatus is "completed" or "failed";
            if (open.TryGetValue((session, id), out var tool))
            {
                tool.Activity.Add(line.At);
                if (finished)
                {
                    tool.End = line.At;
                    open.Remove((session, id));
                }
            }
            else if (!finished)
            {
                tool = new AgentTool(session, id, head.UpdateTitle ?? "agent tool", line.At, line.Number);
                tool.End = Earliest(promptAnswered, cancelled, connection.EndedAt);
                tools.Add(tool);
                open[(session, id)] = tool;
            }
        }

        foreach (var tool in tools.Where(t => t.End is null))
        {
            tool.End = Earliest(connection.EndedAt, EvidenceEnd(log));
        }

        return tools;
    }

    /// <summary>An agent-side tool on the tap: its start (first report), its activity (later reports), and when it stopped counting.</summary>
    private sealed class AgentTool(string sessionId, string toolCallId, string name, TimeSpan start, long line)
    {
        public string SessionId { get; } = sessionId;

        public string ToolCallId { get; } = toolCallId;

        public string Name { get; } = name;

        public TimeSpan Start { get; } = start;

        public long Line { get; } = line;

        public List<TimeSpan> Activity { get; } = [];

        /// <summary>Its completed/failed report, its turn's end, its session's cancel or its agent's end, whichever came first.</summary>
        public TimeSpan? End { get; set; }

        /// <summary>
        /// The watchdog's deadline from what the tap saw: <c>max(start + timeout, last activity + window)</c>, the start
        /// counting as the first activity; activity counts only while the deadline has not passed.
        /// </summary>
        public TimeSpan Deadline(TimeSpan timeout, TimeSpan window, TimeSpan? cap)
        {
            var capAt = cap is { } c ? Start + c : TimeSpan.MaxValue;
            var deadline = Start + (timeout > window ? timeout : window);
            foreach (var at in Activity.Order())
            {
                if (at <= deadline && at <= capAt && at + window > deadline)
                {
                    deadline = at + window;
                }
            }

            return deadline < capAt ? deadline : capAt;
        }

        public string Describe() =>
            $"started at {At(Start)} (wire line {Line})" + (Activity.Count > 0 ? $", last activity at {At(Activity.Max())}" : ", no activity");
    }
}
