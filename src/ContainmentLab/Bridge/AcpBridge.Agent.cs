using ContainmentLab.Events;

namespace ContainmentLab.Bridge;

public sealed partial class AcpBridge
{
    /// <summary>Waits for the agent to go (exit, crash, closed stdout, kill) and completes everything that waited on it.</summary>
    private async Task WatchAgentAsync(Agent agent)
    {
        var closedReason = await agent.Connection.Closed.ConfigureAwait(false);

        // Without its stdout the agent can no longer answer anything: fail every waiter now, not at a timeout.
        var reason = agent.ExitReason ?? closedReason;
        agent.MarkExiting(reason);
        agent.Connection.FailPending(new AgentExitedException($"the agent exited: {reason}"));
        foreach (var session in _sessions.Values)
        {
            Turn? turn;
            lock (session.Lock)
            {
                turn = session.Turn;
            }

            if (turn is not null)
            {
                EndTurn(turn, TurnEnd.AgentExited, null, $"the agent exited: {reason}");
            }
        }

        if (!agent.Transport.Exited.IsCompleted)
        {
            // Its stdout closed but the process lives on: it is of no use; make sure it is gone.
            agent.Transport.Kill();
        }

        AgentExit exit;
        try
        {
            exit = await agent.Transport.Exited.WaitAsync(_options.ShutdownGrace, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            exit = new AgentExit(null, null, agent.Transport.StderrTail);
        }

        agent.Exit = exit;
        Events.Publish(new AgentExited(_time.GetUtcNow(), exit.ExitCode, exit.Signal, exit.StderrTail, reason));
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
    private sealed class Agent(IAgentTransport transport, Connection connection)
    {
        private string? _exitReason;

        public IAgentTransport Transport { get; } = transport;

        public Connection Connection { get; } = connection;

        public string? ExitReason => Volatile.Read(ref _exitReason);

        public AgentExit? Exit { get; set; }

        public bool IsAlive => ExitReason is null && !Connection.IsClosed;

        public void MarkExiting(string reason) => Interlocked.CompareExchange(ref _exitReason, reason, null);
    }
}
