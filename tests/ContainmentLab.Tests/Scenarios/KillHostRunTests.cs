using ContainmentLab.Events;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Os;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// A kill_host fixture runs whole in its host process — the fixture's host block, sessions and timeline — and the
/// runner sees what the host saw (events, wire lines, actions, turns, audit) as if the bridge had run in-process.
/// </summary>
[TestFixture]
[Category("Fixtures")]
[Category("Process")]
[CancelAfter(120_000)]
public sealed class KillHostRunTests
{
    private static ScenarioRunOptions Options(string? transcript = null) => new() { HostPath = RepositoryPaths.Cli, TranscriptPath = transcript };

    private static async Task<RunLog> RunAsync(Fixture fixture, ScenarioRunOptions options, CancellationToken cancellationToken)
    {
        await using var run = new HostProcessRun(fixture, options);
        var log = await run.ExecuteAsync(cancellationToken);
        Assert.That(run.Problems, Is.Empty, () => string.Join("\n", run.Problems.Select(p => $"{p.Expectation}: {p.Detail} [{p.FirstOffendingRecord}]")));
        return log;
    }

    [Test]
    public async Task Debug(CancellationToken cancellationToken)
    {
        var fixture = FixtureLoader.Load(Path.Combine(RepositoryPaths.Root, "fixtures", "orphan-sweep-after-kill-host.yaml"));
        var log = await RunAsync(fixture, Options(), cancellationToken);
        TestContext.Out.WriteLine(string.Join("\n", log.Os!.Processes));
        TestContext.Out.WriteLine("deaths: " + string.Join("\n", log.Os!.AgentDeaths));
        TestContext.Out.WriteLine("left: " + string.Join("\n", log.Os!.Leftovers));
    }
}
