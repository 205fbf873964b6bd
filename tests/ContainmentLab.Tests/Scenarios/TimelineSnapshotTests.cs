using ContainmentLab.Scenarios;
using ContainmentLab.Tests.Support;
using Snapshooter.NUnit;
using Snapshooter;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The normalized event timeline of the deterministic fixtures (one session, no races), as committed snapshots: a
/// change in behaviour shows up as a readable diff. Only lane, kind and detail are kept: no times, pids or latencies.
/// </summary>
[TestFixture]
[Category("Fixtures")]
[Category("Process")]
[NonParallelizable]
public sealed class TimelineSnapshotTests
{
    public static IEnumerable<string> Deterministic() =>
    [
        "dry-run-policy",
        "confirm-policy",
        "permission-deny-is-not-cancel",
        "busy-session-second-prompt",
        "stdout-closed-agent-alive",
    ];

    [TestCaseSource(nameof(Deterministic))]
    [CancelAfter(60_000)]
    public async Task Timeline_MatchesSnapshot(string fixture, CancellationToken cancellationToken)
    {
        var path = Path.Combine(RepositoryPaths.Root, "fixtures", fixture + ".yaml");

        var result = await ScenarioRunner.RunFileAsync(path, new ScenarioRunOptions(), cancellationToken);

        Assert.That(result.Verdict, Is.EqualTo(Verdict.Passed), string.Join('\n', result.Failures.Select(f => f.Expectation + ": " + f.Detail)));
        var timeline = result.Timeline.Select(e => $"{e.Lane} {e.Kind} {e.Detail}").ToList();
        Snapshot.Match(timeline, SnapshotNameExtension.Create(fixture));
    }
}
