using ContainmentLab.Events;

namespace ContainmentLab.Bridge;

public sealed partial class AcpBridge
{
    /// <summary>Waits for the agent to go (exit, crash, closed stdout, kill) and completes everything that waited on it.</summary>
    private async Task WatchAgentAsync(Agent agent)
    {
        var closedReason = await agent.Connection.Closed.ConfigureAwait(false);
        var reason = agent.ExitReason ?? closedReason;
        agent.MarkExiting(reason);

        // Without its stdout the agent can answer nothing more. Its exit status comes within moments (or it is killed).
        var exit = await agent.Transport.ExitAfterOutputClosedAsync(_time).ConfigureAwait(false);
        agent.Exit = exit;
        KillAgentLeftovers(agent.Cookie);
        var why = $"the agent exited ({exit.Describe()}): {reason}";
        agent.Connection.FailPending(new AgentExitedException(why, exit.ExitCode, exit.Signal, exit.StderrTail));
        foreach (var session in _sessions.Values)
        {
            RetireSession(session, why, exit);
        }

        Events.Publish(new AgentExited(_time.GetUtcNow(), exit.ExitCode, exit.Signal, exit.StderrTail, reason));
    }

    /// <summary>An ACP session lives in its agent: when the agent dies, the session ends with it, and never dispatches again.</summary>
    private void RetireSession(Session session, string why, AgentExit exit)
    {
        _retired[session.Id] = why;
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

    /// <summary>The running agent, or a fresh one if it died (after a backoff, within the restart budget).</summary>
    private async Task<Agent> EnsureAgentAsync(CancellationToken cancellationToken)
    {
        var agent = LiveAgentOrNull();
        if (agent is not null)
        {
            return agent;
        }

        await _restartLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (LiveAgentOrNull() is { } restarted)
            {
                return restarted;
            }

            var previous = _agent!;

            // The dead agent's clean-up (its sessions retired, its leftovers killed) finishes before a new one starts.
            await previous.Watcher.ConfigureAwait(false);
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
            await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
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

    /// <summary>One agent incarnation: its transport and connection.</summary>
    private sealed class Agent(IAgentTransport transport)
    {
        private string? _exitReason;

        public IAgentTransport Transport { get; } = transport;

        /// <summary>This incarnation's own cookie (null without a lease): its leftover kill touches only carriers of it.</summary>
        public string? Cookie { get; init; }

        public Connection Connection { get; set; } = null!;

        public string? ExitReason => Volatile.Read(ref _exitReason);

        public AgentExit? Exit { get; set; }

        /// <summary>The task that completes everything when this agent goes.</summary>
        public Task Watcher { get; set; } = Task.CompletedTask;

        public bool IsAlive => ExitReason is null && !Connection.IsClosed;

        public void MarkExiting(string reason) => Interlocked.CompareExchange(ref _exitReason, reason, null);
    }
}
