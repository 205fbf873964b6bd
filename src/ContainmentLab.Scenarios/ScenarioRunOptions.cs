namespace ContainmentLab.Scenarios;

/// <summary>How <see cref="ScenarioRunner"/> runs a fixture.</summary>
public sealed record ScenarioRunOptions
{
    /// <summary>Where to write the NDJSON transcript (every wire line both ways, every event, every action); null for none.</summary>
    public string? TranscriptPath { get; init; }

    /// <summary>The fake agent executable, for <c>script</c>, <c>script_file</c> and <c>replay</c> agents.</summary>
    public string FakeAgentPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "ContainmentLab.FakeAgent");

    /// <summary>The executable with the hidden <c>__host</c> and <c>__reaper</c> subcommands, for fixtures with <c>kill_host</c>.</summary>
    public string HostPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "ContainmentLab.Cli");

    /// <summary>Bound on the whole run; past it the run ends Failed.</summary>
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>How long the runner waits, after the timeline, for every turn to end before it stops the bridge.</summary>
    public TimeSpan TurnWait { get; init; } = TimeSpan.FromSeconds(30);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The run's folder (sandbox, lease directory, inline script), owned by whoever made it; null for a fresh temporary one the run deletes.</summary>
    internal string? WorkDirectory { get; init; }

    /// <summary>The run's start on <see cref="TimeProvider"/>, when it began before this run (a kill_host host keeps its runner's clock).</summary>
    internal long? Epoch { get; init; }

    /// <summary>Set in a kill_host fixture's host process: the run streams to its runner, and <c>kill_host</c> asks to be killed.</summary>
    internal HostStreamWriter? HostStream { get; init; }
}
