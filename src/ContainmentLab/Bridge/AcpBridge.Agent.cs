using System.Collections.Concurrent;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;

namespace ContainmentLab.Bridge;

public sealed partial class AcpBridge
{
    /// <summary>
    /// Waits for the agent to go (exit, crash, closed stdout, kill) and completes everything that waited on it. Its death
    /// is seen from the process as well as from end of file (G5): a descendant that inherited its stdout keeps end of
    /// file from coming, but not the exit. What it wrote before it died is still read first (G9), within
    /// <see cref="BridgeOptions.ExitDrainTimeout"/>.
    /// </summary>
    private async Task WatchAgentAsync(Agent agent)
    {
        var closed = agent.Connection.Closed;
        var exited = agent.Transport.Exited;
        await Task.WhenAny(closed, exited).ConfigureAwait(false);
        string reason;
        AgentExit exit;
        var stillDelivering = false;
        if (closed.IsCompleted)
        {
            reason = agent.ExitReason ?? await closed.ConfigureAwait(false);
            agent.MarkExiting(reason);

            // Without its stdout the agent can answer nothing more. Its exit status comes within moments (or it is killed).
            exit = await ExitOf(agent.Transport.ExitAfterOutputClosedAsync(_time), agent).ConfigureAwait(false);
        }
        else
        {
            reason = agent.ExitReason ?? "the agent process exited";
            agent.MarkExiting(reason);
            exit = await ExitOf(exited, agent).ConfigureAwait(false);

            // Its output ends once what it wrote is read (the transport sees the pipe empty); one that still delivers after
            // the bound is fed by a descendant that holds the pipe, not by the dead agent.
            if (!await CompletesWithinAsync(closed, _options.ExitDrainTimeout).ConfigureAwait(false))
            {
                reason += $"; its stdout was still open and delivering {_options.ExitDrainTimeout.TotalSeconds:0.###} s later (a descendant holds it), so reading stopped";
                stillDelivering = true;
            }
        }

        agent.Exit = exit;
        KillAgentLeftovers(agent.Cookie);
        var why = $"the agent exited ({exit.Describe()}): {reason}";
        agent.Connection.FailPending(new AgentExitedException(why, exit.ExitCode, exit.Signal, exit.StderrTail));

        // The reader stops before the sessions go, so that nothing the descendant writes is taken for theirs.
        var stopping = stillDelivering ? agent.Connection.DisposeAsync() : ValueTask.CompletedTask;
        agent.RetiredWhy = why;
        agent.MarkRetiring();
        foreach (var session in agent.Sessions.Values)
        {
            RetireSession(session, why, exit);
        }

        Events.Publish(new AgentExited(_time.GetUtcNow(), exit.ExitCode, exit.Signal, exit.StderrTail, reason));

        // The dead agent's connection and process go with it (its writer loop, stall timer and handles), each bounded:
        // a restart waits for this, so that nothing of the old agent is still running beside the new one.
        try
        {
            await stopping.ConfigureAwait(false);
            await agent.Connection.DisposeAsync().ConfigureAwait(false);
            await agent.Transport.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Everything that waited on the agent is complete already; a failing disposal is logged, never a faulted watcher.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogAgentDisposalFailed(_logger, ex);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "Disposing the dead agent's connection or process failed")]
    private static partial void LogAgentDisposalFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception);

    /// <summary>How the agent ended; a transport whose exit task failed reports no status rather than kill the watcher.</summary>
    private static async Task<AgentExit> ExitOf(Task<AgentExit> exit, Agent agent)
    {
        try
        {
            return await exit.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Any failure of a transport's exit task is an exit without status: the watcher must go on.
        catch (Exception)
#pragma warning restore CA1031
        {
            return new AgentExit(null, null, agent.Transport.StderrTail);
        }
    }

    private async Task<bool> CompletesWithinAsync(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout, _time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>An ACP session lives in its agent: when the agent dies, the session ends with it, and never dispatches again.</summary>
    private void RetireSession(Session session, string why, AgentExit exit)
    {
        if (!_retired.TryAdd(session.Id, why))
        {
            return; // retired already (by the watcher and by NewSessionAsync's late check both)
        }

        _retiredSessions.Add(session);
        _sessions.TryRemove(KeyValuePair.Create(session.Id, session));
        session.Dispatch.Gate.Close(Audit, session.Id, "agent exited");
        session.Dispatch.CancelInFlight();
        Turn? turn;
        lock (session.Lock)
        {
            session.Interrupted = true;
            turn = session.Turn;
        }

        if (turn is not null)
        {
            EndTurn(turn, TurnEnd.AgentExited, null, why, exit: exit);
        }
    }

    /// <summary>
    /// The running agent, or a fresh one if it died (after a backoff, within the restart budget). The whole restart —
    /// waiting for another caller's restart, the dead agent's clean-up, the backoff, the start — is bounded by
    /// <see cref="BridgeOptions.RestartTimeout"/>: past it, a <see cref="TimeoutException"/> says which step hung. The
    /// caller's own cancellation wins.
    /// </summary>
    private async Task<Agent> EnsureAgentAsync(CancellationToken cancellationToken)
    {
        var agent = LiveAgentOrNull();
        if (agent is not null)
        {
            return agent;
        }

        var step = "waiting for another restart to finish";
        using var deadline = new CancellationTokenSource(_options.RestartTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await RestartAsync(s => step = s, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"restarting the agent did not finish within RestartTimeout {_options.RestartTimeout.TotalSeconds:0.###} s: it was {step}; no fresh agent runs");
        }
    }

    private async Task<Agent> RestartAsync(Action<string> step, CancellationToken cancellationToken)
    {
        await _restartLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (LiveAgentOrNull() is { } restarted)
            {
                return restarted;
            }

            var previous = _agent!;

            // The dead agent's clean-up (its sessions retired, its leftovers killed) finishes before a new one starts.
            step($"waiting for the dead agent's clean-up ({previous.ExitReason})");
            await previous.Watcher.WaitAsync(cancellationToken).ConfigureAwait(false);
            var exit = previous.Exit?.Describe() ?? previous.ExitReason ?? "unknown";
            if (_restarts >= _options.Restart.Budget)
            {
                throw new AgentExitedException(
                    $"the agent is not running ({exit}: {previous.ExitReason}) and the restart budget of {_options.Restart.Budget} is spent",
                    previous.Exit?.ExitCode,
                    previous.Exit?.Signal,
                    previous.Exit?.StderrTail);
            }

            _restarts++;
            var backoff = _options.Restart.BackoffFor(_restarts);
            Events.Publish(new AgentRestarted(_time.GetUtcNow(), _restarts, _options.Restart.Budget, backoff, $"{exit}: {previous.ExitReason}"));
            step("in the restart backoff");
            await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
            step("starting the fresh agent");
            await StartAsync(cancellationToken).ConfigureAwait(false);
            return LiveAgentOrNull() ?? throw new AgentExitedException("the restarted agent exited during start-up");
        }
        finally
        {
            _restartLock.Release();
        }
    }

    private Agent? LiveAgentOrNull()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var agent = _agent ?? throw new AgentExitedException("the agent is not started: call StartAsync first");
        return agent.IsAlive ? agent : null;
    }

    private async Task StopAgentAsync(Agent agent, string reason)
    {
        agent.MarkExiting(reason);
        try
        {
            await agent.Transport.StopAsync(_options.ShutdownGrace, _time).ConfigureAwait(false);
        }
        finally
        {
            await agent.Connection.DisposeAsync().ConfigureAwait(false);
            await agent.Transport.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One agent incarnation: its transport, connection, dispatcher and sessions.</summary>
    internal sealed class Agent(IAgentTransport transport)
    {
        private string? _exitReason;
        private int _retiring;

        public IAgentTransport Transport { get; } = transport;

        /// <summary>This incarnation's own cookie (null without a lease): its leftover kill touches only carriers of it.</summary>
        public string? Cookie { get; init; }

        public Connection Connection { get; set; } = null!;

        /// <summary>
        /// Its own dispatcher: requests of this agent resolve only to this agent's sessions (a straggler of a dead agent
        /// can never reach a session of the next one), and its replay guard ends with it.
        /// </summary>
        public Dispatcher Dispatcher { get; set; } = null!;

        /// <summary>Its sessions by the agent's own id (the wire's), live or retired.</summary>
        public ConcurrentDictionary<string, Session> Sessions { get; } = new(StringComparer.Ordinal);

        public string? ExitReason => Volatile.Read(ref _exitReason);

        public AgentExit? Exit { get; set; }

        /// <summary>Why its sessions ended, once they did.</summary>
        public string? RetiredWhy { get; set; }

        /// <summary>The task that completes everything when this agent goes.</summary>
        public Task Watcher { get; set; } = Task.CompletedTask;

        public bool IsAlive => ExitReason is null && !Connection.IsClosed;

        /// <summary>Its sessions are being retired: one added from now on is retired at once.</summary>
        public bool IsRetiring => Volatile.Read(ref _retiring) != 0;

        public void MarkExiting(string reason) => Interlocked.CompareExchange(ref _exitReason, reason, null);

        public void MarkRetiring() => Interlocked.Exchange(ref _retiring, 1);
    }
}
