namespace ContainmentLab.FakeAgent;

/// <summary>A descendant process started by a <c>spawn</c> step: its pid and its level below the agent (1 = child).</summary>
public readonly record struct SpawnedProcess(int Pid, int Depth);

/// <summary>
/// What the engine cannot do by itself because it depends on where it runs: dying and starting processes. The child
/// process (<see cref="FakeAgentHost"/>) uses <see cref="ChildProcessHooks.Create"/>; in-process the defaults apply.
/// </summary>
public sealed class AgentHooks
{
    /// <summary>The in-process defaults: a crash ends <see cref="FakeAgentEngine.RunAsync"/>, spawning is refused.</summary>
    public static AgentHooks InProcess { get; } = new();

    /// <summary>
    /// Called when the script kills the agent (<c>crash</c>, <c>exit_during_startup</c>). The child process's hook exits
    /// or signals itself and never returns. When it returns (or is null), the engine ends abruptly instead: it stops
    /// reading, drops every line not yet written, closes its output and RunAsync returns, so the peer sees end of stream.
    /// </summary>
    public Action<ExitRequest>? Exit { get; init; }

    /// <summary>
    /// Called after <c>close_stdout</c> closed the output stream: the child process makes sure no duplicate descriptor
    /// keeps the pipe open, so the peer really sees end of stream.
    /// </summary>
    public Action? OutputClosed { get; init; }

    /// <summary>
    /// Starts the descendants of a <c>spawn</c> step and returns every one of them. Null: the step is refused with a log
    /// line (an in-process engine must not leave processes behind that nobody will clean up).
    /// </summary>
    public Func<SpawnStep, CancellationToken, Task<IReadOnlyList<SpawnedProcess>>>? Spawn { get; init; }

    /// <summary>Where the engine keeps its own account of what it sent and received (for the runner's oracles); null for none.</summary>
    public AgentAccount? Account { get; init; }
}
