namespace ContainmentLab.Bridge;

/// <summary>A prompt was refused because of the session's state (busy, interrupted, unknown); the running turn is untouched.</summary>
public sealed class SessionStateException(string message) : InvalidOperationException(message);

/// <summary>The agent is not running (it exited, was killed, or the bridge was stopped).</summary>
public sealed class AgentExitedException(string message, int? exitCode = null, int? signal = null, string? stderrTail = null) : Exception(message)
{
    public int? ExitCode { get; } = exitCode;

    public int? Signal { get; } = signal;

    public string StderrTail { get; } = stderrTail ?? string.Empty;
}
