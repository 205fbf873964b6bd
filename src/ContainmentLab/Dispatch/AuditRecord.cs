namespace ContainmentLab.Dispatch;

/// <summary>One line of the audit log.</summary>
/// <param name="Seq">Monotonic sequence number, 1-based, unique across the log.</param>
/// <param name="RequestId">The agent's JSON-RPC request id, when the record answers a request.</param>
public sealed record AuditRecord(
    long Seq,
    DateTimeOffset At,
    AuditKind Kind,
    string? SessionId,
    string? ToolCallId,
    string? Tool,
    string? RequestId,
    string? Detail);
