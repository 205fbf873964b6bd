namespace ContainmentLab.Bridge;

/// <summary>How the agent ended.</summary>
public sealed record AgentExit(int? ExitCode, int? Signal, string StderrTail)
{
    public string Describe() => Signal is { } signal ? $"killed by signal {signal}" : ExitCode is { } code ? $"exit code {code}" : "no exit status";
}
