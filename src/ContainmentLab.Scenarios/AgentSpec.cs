namespace ContainmentLab.Scenarios;

public enum AgentKind
{
    /// <summary>The fake agent with a script written inline in the fixture.</summary>
    InlineScript,

    /// <summary>The fake agent with a script file (<c>script_file:</c>).</summary>
    ScriptFile,

    /// <summary>Any external ACP agent (<c>command:</c>).</summary>
    Command,

    /// <summary>The fake agent replaying a transcript (<c>replay:</c>).</summary>
    Replay,
}

/// <summary>
/// The agent of a fixture. For <see cref="AgentKind.InlineScript"/>, <see cref="ScriptText"/> is the script's YAML as
/// written in the fixture (padded so that its lines and columns are the fixture's); for the file kinds,
/// <see cref="Path"/> is absolute.
/// </summary>
public sealed record AgentSpec(AgentKind Kind, string? Path, string? ScriptText, IReadOnlyList<string> Command)
{
    /// <summary>Variables set for the agent process (<c>env:</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
