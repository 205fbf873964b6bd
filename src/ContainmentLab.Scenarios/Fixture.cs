namespace ContainmentLab.Scenarios;

/// <summary>
/// One scenario, as loaded from a fixture file by <see cref="FixtureLoader"/>: the agent, the host's settings, the
/// sessions, the user's actions on a timeline and what must be true afterwards (DESIGN.md §6, fixtures/README.md).
/// </summary>
public sealed record Fixture(
    string Path,
    string Name,
    string Description,
    int Seed,
    AgentSpec Agent,
    HostSpec Host,
    IReadOnlyList<string> Sessions,
    IReadOnlyList<TimelineAction> Timeline,
    FixtureExpectations Expect)
{
    /// <summary>The timeline contains <c>kill_host</c>: the bridge must run in a child host process.</summary>
    public bool KillsHost => Timeline.Any(a => a.Kind == ActionKind.KillHost);
}
