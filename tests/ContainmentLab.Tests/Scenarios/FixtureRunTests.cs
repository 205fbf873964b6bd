using ContainmentLab.Scenarios;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>Every fixture in fixtures/ runs with real processes and passes; a violated expectation fails and names itself.</summary>
[TestFixture]
[Category("Fixtures")]
[Category("Process")]
[Parallelizable(ParallelScope.Children)]
public sealed class FixtureRunTests
{
    /// <summary>Every fixture, subfolders included (fixtures/hostile/…), as a path relative to fixtures/; scripts/ holds scripts, not fixtures.</summary>
    public static IEnumerable<string> Fixtures()
    {
        var root = Path.Combine(RepositoryPaths.Root, "fixtures");
        return Directory.GetFiles(root, "*.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f))
            .Where(f => !f.StartsWith("scripts" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
    }

    /// <summary>The CLI as built in its own folder, the host for kill_host fixtures.</summary>
    private static string HostPath => RepositoryPaths.Cli;

    private static string PathOf(string name) => Path.Combine(RepositoryPaths.Root, "fixtures", name);

    [TestCaseSource(nameof(Fixtures))]
    [CancelAfter(120_000)]
    public async Task RunFileAsync_Fixture_Passes(string name, CancellationToken cancellationToken)
    {
        var transcript = Path.Combine(Path.GetTempPath(), $"cl-transcript-{Guid.NewGuid():N}.ndjson");
        try
        {
            var result = await ScenarioRunner.RunFileAsync(PathOf(name), new ScenarioRunOptions { TranscriptPath = transcript, HostPath = HostPath }, cancellationToken);

            var report = result.Error + "\n" + string.Join('\n', result.Failures.Select(f => $"{f.Location}: {f.Expectation}: {f.Detail} [{f.FirstOffendingRecord}]"))
                + "\n" + string.Join('\n', result.Timeline.TakeLast(40).Select(e => $"{e.At.TotalSeconds:0.000} {e.Lane} {e.Kind} {e.Detail}"));
            Assert.That(result.Verdict, Is.EqualTo(Verdict.Passed), report);
            // Also a kill_host fixture's: its host streams its wire to the runner.
            Assert.That(File.ReadLines(transcript).Any(l => l.Contains("\"dir\":\"out\"", StringComparison.Ordinal)), Is.True, "the transcript has the host's side of the wire");
            Assert.That(File.ReadLines(transcript).Any(l => l.Contains("\"dir\":\"in\"", StringComparison.Ordinal)), Is.True, "the transcript has the agent's side of the wire");
        }
        finally
        {
            File.Delete(transcript);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task RunAsync_ExpectationViolated_FailsNamingIt(CancellationToken cancellationToken)
    {
        // The storm fixture with an expectation that cannot hold: no dispatch in the session that storms until stopped.
        var text = File.ReadAllText(PathOf("storm-interrupt-session.yaml"))
            .Replace("- { name: ToolSkipped, session: s2, count: 0 }", "- { name: ToolDispatched, session: s1, count: 0 }", StringComparison.Ordinal);
        var path = Path.Combine(Path.GetDirectoryName(PathOf("x"))!, $"cl-violated-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, text);
        try
        {
            var result = await ScenarioRunner.RunFileAsync(path, new ScenarioRunOptions(), cancellationToken);

            Assert.That(result.Verdict, Is.EqualTo(Verdict.Failed));
            var failure = result.Failures.Single();
            Assert.That(failure.Expectation, Is.EqualTo("events: ToolDispatched count 0 (session s1)"));
            Assert.That(failure.SessionId, Is.EqualTo("s1"));
            Assert.That(failure.FirstOffendingRecord, Does.Contain("s1 ToolDispatched sess-1/t"));
            Assert.That(failure.Location, Does.Match(@":2\d:7$"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
