namespace ContainmentLab.Dispatch;

/// <summary>
/// A session's interrupt gate: the linearization point of G1. Passing the gate and writing the <c>dispatched</c>
/// record happen under the same lock as closing it and writing the <c>interrupted</c> record, so in the audit log
/// every dispatch of a session is either before its interrupt record or refused. Closing never waits on anything
/// but this lock, which is held only for an in-memory append.
/// </summary>
public sealed class InterruptGate
{
    private readonly Lock _lock = new();
    private volatile bool _closed;

    public bool IsClosed => _closed;

    /// <summary>The sequence number of the <c>interrupted</c> record, once closed.</summary>
    public long ClosedAtSeq { get; private set; }

    /// <summary>Takes a dispatch ticket: writes the <c>dispatched</c> record if the gate is open.</summary>
    public bool TryPass(AuditLog audit, string sessionId, string toolCallId, string tool, string? requestId, out AuditRecord dispatched)
    {
        ArgumentNullException.ThrowIfNull(audit);
        lock (_lock)
        {
            if (_closed)
            {
                dispatched = null!;
                return false;
            }

            dispatched = audit.Append(AuditKind.Dispatched, sessionId, toolCallId, tool, requestId);
            return true;
        }
    }

    /// <summary>Closes the gate and writes the <c>interrupted</c> record; false when it was already closed.</summary>
    public bool Close(AuditLog audit, string sessionId, string reason)
    {
        ArgumentNullException.ThrowIfNull(audit);
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            _closed = true;
            ClosedAtSeq = audit.Append(AuditKind.Interrupted, sessionId, detail: reason).Seq;
            return true;
        }
    }
}
