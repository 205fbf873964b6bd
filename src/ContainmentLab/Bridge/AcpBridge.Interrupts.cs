using ContainmentLab.Events;

namespace ContainmentLab.Bridge;

public sealed partial class AcpBridge
{
    /// <summary>
    /// Stop for one session. Before it returns the session's gate is closed (nothing of the session dispatches
    /// after this), <c>session/cancel</c> is queued, pending permission requests are answered <c>cancelled</c> and
    /// in-flight host tools are cancelled. It never waits on the pipe. The turn ends on the agent's ack, or by
    /// escalation after AckTimeout. False when the session is unknown or was already interrupted.
    /// </summary>
    public bool Interrupt(string sessionId)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        if (!_sessions.TryGetValue(sessionId, out var session) || !InterruptSession(session, "interrupt"))
        {
            return false;
        }

        Events.Publish(new InterruptRequested(_time.GetUtcNow(), sessionId, false, [sessionId]));
        return true;
    }

    /// <summary>Stop for every session (and for sessions being created right now). Returns how many were interrupted.</summary>
    public int InterruptAll()
    {
        Interlocked.Increment(ref _interruptAllEpoch);
        var interrupted = new List<string>();
        foreach (var session in _sessions.Values)
        {
            if (InterruptSession(session, "interrupt_all"))
            {
                interrupted.Add(session.Id);
            }
        }

        Events.Publish(new InterruptRequested(_time.GetUtcNow(), null, true, interrupted));
        return interrupted.Count;
    }

    private bool InterruptSession(Session session, string reason)
    {
        // The linearization point of G1: after this, no tool call of the session begins dispatch.
        if (!session.Dispatch.Gate.Close(Audit, session.Id, reason))
        {
            return false;
        }

        Turn? turn;
        bool queued;
        lock (session.Lock)
        {
            session.Interrupted = true;
            turn = session.Turn;

            // The turn is marked before session/cancel is queued: the agent's answer can come back at once, and must be
            // read as the ack of an interrupted turn.
            queued = turn is not null && turn.MarkInterrupted(_time.GetTimestamp()) && session.Agent.Connection.Enqueue(session.CancelLine);
        }

        session.Dispatch.CancelInFlight();
        if (turn is not null)
        {
            if (queued)
            {
                Events.Publish(new CancelSent(_time.GetUtcNow(), session.Id));
            }

            turn.ArmAckTimer(() => _time.CreateTimer(_ => OnAckTimeout(turn), null, _options.AckTimeout, Timeout.InfiniteTimeSpan));
        }

        // The interrupt record leaves the process soon, and reaches the disk (fsync), without making Stop wait on the disk:
        // on the thread pool, where Flush never throws (a failing store is reported as AuditFailed, the records stay in
        // memory). Without a file there is nothing to flush: queueing the work item anyway would only wake a thread beside
        // the ack path.
        if (Audit.Path is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static audit => audit.Flush(toDisk: true), Audit, preferLocal: false);
        }
        return true;
    }

    private void OnAckTimeout(Turn turn)
    {
        if (!turn.TryBeginEscalation())
        {
            return;
        }

        // Kill first, then end the turn: a caller that sees Escalated (and, say, disposes the bridge) finds the kill
        // already sent, and the death it causes cannot end the turn first, because the escalation has claimed it.
        Events.Publish(new AckTimedOut(_time.GetUtcNow(), turn.Session.Id, _options.AckTimeout));
        Escalate(turn.Session.Agent, turn.Session.Id, $"no ack within {_options.AckTimeout.TotalSeconds:0.###} s of session/cancel");
        EndTurn(turn, TurnEnd.Escalated, null, $"the agent did not acknowledge session/cancel within {_options.AckTimeout.TotalSeconds:0.###} s; it was killed", escalation: true);
    }

    /// <summary>
    /// Forced stop of the session's agent (never a later one): the ack did not come. Every other pending await completes as
    /// the agent dies.
    /// </summary>
    private void Escalate(Agent agent, string? sessionId, string reason)
    {
        Events.Publish(new Escalated(_time.GetUtcNow(), sessionId, reason));
        agent.MarkExiting("escalated: " + reason);
        agent.Transport.Kill();
    }
}
