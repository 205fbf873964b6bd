using ContainmentLab.Scenarios;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>A recorded hang reproduces without the original agent: a fixture's transcript, replayed, gives the same verdict.</summary>
[TestFixture]
[Category("Fixtures")]
[Category("Process")]
[NonParallelizable]
public sealed class TranscriptReplayFixtureTests
{
    [TestCase("dry-run-policy")]
    [TestCase("permission-deny-is-not-cancel")]
    [CancelAfter(60_000)]
    public async Task Transcript_ReplayedByTheFakeAgent_GivesTheSameVerdict(string fixture, CancellationToken cancellationToken)
    {
        var source = Path.Combine(RepositoryPaths.Root, "fixtures", fixture + ".yaml");
        var folder = Directory.CreateTempSubdirectory("cl-replay-fixture-");
        try
        {
            var transcript = Path.Combine(folder.FullName, "recorded.ndjson");
            var recorded = await ScenarioRunner.RunFileAsync(source, new ScenarioRunOptions { TranscriptPath = transcript }, cancellationToken);

            // The same fixture, with the agent replaced by the replay of its recording.
            var lines = File.ReadAllLines(source).ToList();
            var start = lines.FindIndex(l => l.StartsWith("agent:", StringComparison.Ordinal));
            var end = lines.FindIndex(start + 1, l => l.Length > 0 && !char.IsWhiteSpace(l[0]));
            lines.RemoveRange(start, end - start);
            lines.InsertRange(start, ["agent:", "  replay: recorded.ndjson"]);
            var replayFixture = Path.Combine(folder.FullName, fixture + "-replay.yaml");
            File.WriteAllLines(replayFixture, lines);
            var replayed = await ScenarioRunner.RunFileAsync(replayFixture, new ScenarioRunOptions(), cancellationToken);

            Assert.That(recorded.Verdict, Is.EqualTo(Verdict.Passed));
            Assert.That(replayed.Verdict, Is.EqualTo(recorded.Verdict), replayed.Error + string.Join('\n', replayed.Failures.Select(f => f.Expectation + ": " + f.Detail)));
            Assert.That(replayed.Guarantees.Select(g => (g.Id, g.Held)), Is.EqualTo(recorded.Guarantees.Select(g => (g.Id, g.Held))));
            Assert.That(
                replayed.Timeline.Where(e => e.Lane != "agent").Select(e => $"{e.Lane} {e.Kind} {e.Detail}"),
                Is.EqualTo(recorded.Timeline.Where(e => e.Lane != "agent").Select(e => $"{e.Lane} {e.Kind} {e.Detail}")));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
