using ContainmentLab.Dispatch;

namespace ContainmentLab.Events;

/// <summary>The agent process (or in-process agent) is running and initialized.</summary>
public sealed record AgentStarted(DateTimeOffset At, int? ProcessId, string Agent) : ContainmentEvent(At, null);

/// <summary>The agent is gone: it exited, crashed, closed its stdout, or was killed.</summary>
public sealed record AgentExited(DateTimeOffset At, int? ExitCode, int? Signal, string StderrTail, string Reason) : ContainmentEvent(At, null);

public sealed record SessionCreated(DateTimeOffset At, string Id, bool CreatedInterrupted) : ContainmentEvent(At, Id);

public sealed record TurnStarted(DateTimeOffset At, string Id, int Turn) : ContainmentEvent(At, Id);

public sealed record TurnEnded(DateTimeOffset At, string Id, Bridge.TurnOutcome Outcome) : ContainmentEvent(At, Id);

/// <summary>A host tool call passed the gate: its <c>dispatched</c> audit record is written.</summary>
public sealed record ToolDispatched(DateTimeOffset At, string Id, string ToolCallId, string Tool, long Seq) : ContainmentEvent(At, Id);

/// <summary>A tool call was refused at the gate (the session was interrupted) and answered with an error at once.</summary>
public sealed record ToolSkipped(DateTimeOffset At, string Id, string ToolCallId, string Tool, string Reason) : ContainmentEvent(At, Id);

/// <summary>A tool call ended: completed, failed, canceled, denied or dry-run (skips are <see cref="ToolSkipped"/>).</summary>
public sealed record ToolCompleted(DateTimeOffset At, string Id, string ToolCallId, string Tool, AuditKind Result, string? Detail) : ContainmentEvent(At, Id);

/// <summary>The agent asked for permission in a running turn; the policy (or the user's dialog) answers it next.</summary>
public sealed record PermissionRequested(DateTimeOffset At, string Id, string ToolCallId, string? Title) : ContainmentEvent(At, Id);

public sealed record PermissionAnswered(DateTimeOffset At, string Id, string ToolCallId, string Outcome) : ContainmentEvent(At, Id);

/// <summary>The user pressed Stop: for one session, or for all (<see cref="Global"/>).</summary>
public sealed record InterruptRequested(DateTimeOffset At, string? Id, bool Global, IReadOnlyList<string> Sessions) : ContainmentEvent(At, Id);

public sealed record CancelSent(DateTimeOffset At, string Id) : ContainmentEvent(At, Id);

/// <summary>The agent answered the interrupted turn's prompt. <see cref="Deviation"/>: it answered with something other than <c>cancelled</c>.</summary>
public sealed record AckReceived(DateTimeOffset At, string Id, string StopReason, TimeSpan Latency, bool Deviation) : ContainmentEvent(At, Id);

public sealed record AckTimedOut(DateTimeOffset At, string Id, TimeSpan AckTimeout) : ContainmentEvent(At, Id);

/// <summary>The bridge stopped waiting for the agent and killed it.</summary>
public sealed record Escalated(DateTimeOffset At, string? Id, string Reason) : ContainmentEvent(At, Id);

/// <summary>The agent sent something that breaks the protocol; <see cref="Line"/> is the wire line number (0 when not tied to one line).</summary>
public sealed record ProtocolViolation(DateTimeOffset At, string? Id, long Line, string Reason) : ContainmentEvent(At, Id);

/// <summary>The watchdog cancelled a tool call that passed its deadline (G4). Exactly one per cancelled call.</summary>
public sealed record ToolHangCanceled(DateTimeOffset At, string Id, string ToolCallId, string ToolName, double DurationSeconds, string Reason) : ContainmentEvent(At, Id);

/// <summary>A write to the agent's stdin did not complete within WriteStallTimeout: the agent was killed (G6).</summary>
public sealed record AgentWedged(DateTimeOffset At, TimeSpan Stalled, int QueuedLines) : ContainmentEvent(At, null);

/// <summary>A fresh agent was started after the previous one exited (G5).</summary>
public sealed record AgentRestarted(DateTimeOffset At, int Attempt, int Budget, TimeSpan Backoff, string PreviousExit) : ContainmentEvent(At, null);

/// <summary>
/// The audit store started failing (a full disk, an I/O error): published once per failure episode, at its first failed
/// write. Records from <see cref="FirstUnstoredSeq"/> on are kept in memory and written again on each flush; meanwhile no
/// host tool runs (its <c>dispatched</c> record cannot be stored), and Stop works as always.
/// </summary>
/// <param name="Path">The store's path (or name); null when it has none.</param>
/// <param name="Error">The OS error, as the runtime reported it (e.g. "No space left on device : '/dev/full'").</param>
/// <param name="ErrorCode">The exception's HResult (on Unix it carries the errno for I/O errors).</param>
public sealed record AuditFailed(DateTimeOffset At, string? Path, string Error, int ErrorCode, long FirstUnstoredSeq) : ContainmentEvent(At, null);

/// <summary>A write to the audit store succeeded after an <see cref="AuditFailed"/>: every record up to <see cref="StoredThroughSeq"/> is in it.</summary>
public sealed record AuditRecovered(DateTimeOffset At, string? Path, long StoredThroughSeq) : ContainmentEvent(At, null);

/// <summary>
/// Nobody answered the confirm dialog within <see cref="Timeout"/>: a tool call is denied, a permission request is
/// answered with its reject option (or <c>cancelled</c> when it offers none).
/// </summary>
public sealed record ConfirmTimedOut(DateTimeOffset At, string Id, string ToolCallId, string Tool, TimeSpan Timeout) : ContainmentEvent(At, Id);
