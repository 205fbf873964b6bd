namespace ContainmentLab.Protocol;

/// <summary>One environment variable of <c>terminal/create</c>.</summary>
public sealed record EnvVariable(string Name, string Value);

/// <summary>Params of <c>terminal/create</c>: answered with a <see cref="CreateTerminalResponse"/> at once, while the command runs.</summary>
public sealed record CreateTerminalRequest(
    string SessionId,
    string Command,
    IReadOnlyList<string>? Args = null,
    IReadOnlyList<EnvVariable>? Env = null,
    string? Cwd = null,
    long? OutputByteLimit = null);

public sealed record CreateTerminalResponse(string TerminalId);

/// <summary>Params of <c>terminal/output</c>, <c>terminal/wait_for_exit</c>, <c>terminal/kill</c> and <c>terminal/release</c> (one shape in ACP v1).</summary>
public sealed record TerminalRequest(string SessionId, string TerminalId);

/// <summary>How a terminal's command ended: an exit code, or the name of the signal that ended it (<c>SIGKILL</c>).</summary>
public sealed record TerminalExitStatus(int? ExitCode = null, string? Signal = null);

/// <summary>Result of <c>terminal/output</c>; <see cref="ExitStatus"/> only once the command has exited.</summary>
public sealed record TerminalOutputResponse(string Output, bool Truncated, TerminalExitStatus? ExitStatus = null);
