namespace ContainmentLab.Bridge;

/// <summary>The agent's end of the wire: a child process's stdio, or streams to an in-process agent.</summary>
public interface IAgentTransport : IAsyncDisposable
{
    /// <summary>What the agent writes (its stdout); the bridge reads it.</summary>
    Stream Output { get; }

    /// <summary>What the agent reads (its stdin); the bridge writes it.</summary>
    Stream Input { get; }

    /// <summary>The process id, for a child process.</summary>
    int? ProcessId { get; }

    string Description { get; }

    /// <summary>The last bytes the agent wrote to stderr (bounded).</summary>
    string StderrTail { get; }

    /// <summary>Completes when the agent is gone.</summary>
    Task<AgentExit> Exited { get; }

    /// <summary>
    /// The agent's stdout has closed: give it a moment to exit by itself (a crash closes stdout just before the process
    /// ends, and its own exit code is what the user needs), then kill it. Completes with how it ended.
    /// </summary>
    Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider);

    /// <summary>Forced stop: kill the agent and everything it started. Returns at once; <see cref="Exited"/> follows.</summary>
    void Kill();

    /// <summary>Graceful stop: close the agent's stdin, wait up to <paramref name="grace"/>, then kill.</summary>
    Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default);
}
