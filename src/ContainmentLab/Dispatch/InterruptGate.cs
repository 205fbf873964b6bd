namespace ContainmentLab.Dispatch;

/// <summary>
/// A session's interrupt gate: the linearization point of G1. Passing the gate (<c>dispatched</c>), beginning a side
/// effect (<c>began</c>) and committing a permission answer happen under the same lock as closing it and writing the
/// <c>interrupted</c> record, so in the audit log each of them is either before the session's interrupt record or
/// refused. Closing never waits on anything but this lock, which is held only for an in-memory append (and, for a
/// permission answer, a non-blocking enqueue of its line).
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

    /// <summary>
    /// A tool that passed the gate is about to begin its side effect: writes the <c>began</c> record if the gate is still
    /// open. False when it closed meanwhile: the effect must not happen.
    /// </summary>
    public bool TryBegin(AuditLog audit, string sessionId, string toolCallId, string tool, string? requestId)
    {
        ArgumentNullException.ThrowIfNull(audit);
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            audit.Append(AuditKind.Began, sessionId, toolCallId, tool, requestId);
            return true;
        }
    }

    /// <summary>
    /// Commits a permission answer other than <c>cancelled</c>: if the gate is open, writes its record and hands the
    /// answer's line to <paramref name="send"/> (a non-blocking enqueue) under the lock, so an answer decided before the
    /// gate closed is also queued before anything the interrupt queues (its <c>session/cancel</c>). False when the gate
    /// closed first: only <c>cancelled</c> may be answered now. A queue over its cap may make <paramref name="send"/> declare
    /// the agent wedged, which interrupts every session, this one too, on this thread: the lock is re-entrant, and the
    /// answer is queued before that close.
    /// </summary>
    public bool TryAnswer(AuditLog audit, string sessionId, string toolCallId, string? title, string requestId, string outcome, Func<byte[], bool>? send, byte[] answer)
    {
        ArgumentNullException.ThrowIfNull(audit);
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            audit.Append(AuditKind.Permission, sessionId, toolCallId, title, requestId, outcome);
            send?.Invoke(answer);
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
