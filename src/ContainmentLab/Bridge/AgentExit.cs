namespace ContainmentLab.Bridge;

/// <summary>How the agent ended.</summary>
public sealed record AgentExit(int? ExitCode, int? Signal, string StderrTail);
