namespace ContainmentLab.Bridge;

/// <summary>How to start an agent process.</summary>
/// <param name="FileName">The executable.</param>
/// <param name="Arguments">Its arguments, passed as a list (no shell, no quoting).</param>
public sealed record AgentCommand(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>The working directory; null for the host's.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// Names of host environment variables the agent may see. Everything else is withheld: the agent runs in the
    /// user's session, and the host's secrets are not its business.
    /// </summary>
    public IReadOnlyList<string> EnvironmentAllowList { get; init; } = DefaultAllowList;

    /// <summary>Variables set for the agent explicitly (not taken from the host).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public static IReadOnlyList<string> DefaultAllowList { get; } =
        ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "DOTNET_ROOT", "DOTNET_CLI_HOME", "DOTNET_CLI_TELEMETRY_OPTOUT", "DOTNET_NOLOGO"];

    public override string ToString() => string.Join(' ', Arguments.Prepend(FileName));
}
