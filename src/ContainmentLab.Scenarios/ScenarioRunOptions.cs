namespace ContainmentLab.Scenarios;

/// <summary>How <see cref="ScenarioRunner"/> runs a fixture.</summary>
public sealed class ScenarioRunOptions
{
    /// <summary>Where to write the NDJSON transcript (every wire line both ways, every event, every action); null for none.</summary>
    public string? TranscriptPath { get; init; }

    /// <summary>The fake agent executable, for <c>script</c>, <c>script_file</c> and <c>replay</c> agents.</summary>
    public string FakeAgentPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "ContainmentLab.FakeAgent");

    /// <summary>The executable with the hidden <c>host</c> subcommand, for fixtures with <c>kill_host</c>.</summary>
    public string HostPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "ContainmentLab.Cli");

    /// <summary>Bound on the whole run; past it the run ends Failed.</summary>
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>How long the runner waits, after the timeline, for every turn to end before it stops the bridge.</summary>
    public TimeSpan TurnWait { get; init; } = TimeSpan.FromSeconds(30);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
