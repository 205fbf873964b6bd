using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Os;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// A kill_host fixture runs whole in its host process — the fixture's host block, its sessions and its timeline — and
/// the runner sees what the host saw (events, wire lines, actions, turns, audit records) as if the bridge had run
/// in-process; after the kill and the sweep nothing the run started is left, checked from /proc.
/// </summary>
[TestFixture]
[Category("Fixtures")]
[Category("Process")]
[CancelAfter(120_000)]
[Platform("Linux")]
public sealed class KillHostRunTests
{
    /// <summary>
    /// Two sessions: s1's desktop.press is denied by the host's per-tool policy and s1 then stalls; s2's hung agent-side
    /// tool is cancelled by the host's 1 s watchdog (the default is 60 s). Then the host is killed mid-turn in s1.
    /// </summary>
    private const string WholeFixture = """
        name: kill-host-whole-fixture
        description: the host block, two sessions and the timeline run in the host process
        agent:
          script:
            session_prompts:
              sess-1:
                - steps:
                    - tool: desktop.press
                      arguments: { target: denied-by-the-host }
                    - stall: forever
              sess-2:
                - steps:
                    - agent_tool: { title: "Hung build", kind: execute, duration: forever }
        host:
          watchdog: { tool_timeout: 1s, activity_window: 1s }
          policies: { per_tool: { desktop.press: deny } }
        sessions: 2
        timeline:
          - prompt: s1
            text: words only the host can have sent
          - prompt: s2
            after: { event: ToolCompleted, session: s1 }
          - kill_host: true
            after: { event: TurnEnded, session: s2 }
        expect:
          guarantees: [G7]
          events:
            - { name: ToolHangCanceled, session: s2, count: 1 }
          turns:
            s2: cancelled
        """;

    private string _transcript = null!;

    [SetUp]
    public void SetUp() => _transcript = Path.Combine(Path.GetTempPath(), $"cl-killhost-{Guid.NewGuid():N}.ndjson");

    [TearDown]
    public void TearDown() => File.Delete(_transcript);

    private ScenarioRunOptions Options => new() { HostPath = RepositoryPaths.Cli, TranscriptPath = _transcript };

    private static Fixture Parse(string text) => FixtureLoader.Parse(text, "kill-host-whole-fixture.yaml");

    [Test]
    public async Task KillHost_HostRunsTheFixturesHostBlockSessionsAndTimeline_AndTheRunnerSeesIt(CancellationToken cancellationToken)
    {
        var result = await ScenarioRunner.RunAsync(Parse(WholeFixture), Options, cancellationToken);

        var timeline = string.Join('\n', result.Timeline.Select(e => $"{e.At.TotalSeconds:0.000} {e.Lane} {e.Kind} {e.Detail}"));
        Assert.That(result.Verdict, Is.EqualTo(Verdict.Passed), () => string.Join('\n', result.Failures.Select(f => $"{f.Expectation}: {f.Detail}")) + "\n" + timeline);
        Assert.Multiple(() =>
        {
            Assert.That(result.Timeline.Where(e => e.Kind == "TurnStarted").Select(e => e.Lane), Is.EquivalentTo(new[] { "s1", "s2" }), "both sessions, as the timeline says");
            Assert.That(result.Timeline.Any(e => e is { Lane: "s1", Kind: "ToolCompleted" } && e.Detail.EndsWith("Denied", StringComparison.Ordinal)), Is.True, "the host's policy: " + timeline);
            Assert.That(result.Timeline.Any(e => e is { Lane: "s2", Kind: "ToolHangCanceled" }), Is.True, "the host's watchdog: " + timeline);
            Assert.That(result.Timeline.Select(e => e.Kind), Does.Contain("kill_host").And.Contain("sweep"));
        });

        // The host's wire, both ways, and its events are in the runner's transcript.
        var lines = File.ReadAllLines(_transcript);
        Assert.That(lines.Any(l => l.Contains("\"dir\":\"out\"", StringComparison.Ordinal) && l.Contains("words only the host can have sent", StringComparison.Ordinal)), Is.True, "the host's prompt line");
        Assert.That(lines.Any(l => l.Contains("\"dir\":\"in\"", StringComparison.Ordinal) && l.Contains("Hung build", StringComparison.Ordinal)), Is.True, "the agent's tool_call line");
        Assert.That(lines.Any(l => l.Contains("\"event\":\"ToolHangCanceled\"", StringComparison.Ordinal)), Is.True, "the host's event");

        // And the host's raw tap, within the transcript's budget: the agent's bytes as the host's bridge read them.
        var raw = lines.Where(l => l.Contains("\"dir\":\"tap\"", StringComparison.Ordinal) && l.Contains("\"from\":\"agent\"", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("bytes").GetBytesFromBase64());
        Assert.That(System.Text.Encoding.UTF8.GetString([.. raw.SelectMany(b => b)]), Does.Contain("Hung build"), "the host's raw tap in the runner's transcript");
    }

    [Test]
    public async Task KillHost_RunLog_HasTheHostsTurnsAuditAndActions_AtTheHostsTimes(CancellationToken cancellationToken)
    {
        await using var run = new HostProcessRun(Parse(WholeFixture), Options);
        var log = await run.ExecuteAsync(cancellationToken);

        Assert.That(run.Problems, Is.Empty, () => string.Join('\n', run.Problems.Select(p => $"{p.Expectation}: {p.Detail} [{p.FirstOffendingRecord}]")));
        Assert.That(log.SessionIds, Is.EqualTo(new Dictionary<string, string> { ["s1"] = "sess-1", ["s2"] = "sess-2" }));
        Assert.That(log.Actions.Select(a => a.Action.Name), Is.EqualTo(new[] { "prompt", "prompt", "kill_host" }));
        var s1 = log.Turns.Single(t => t.Session == "s1");
        var s2 = log.Turns.Single(t => t.Session == "s2");
        Assert.That(s2.Outcome?.End, Is.EqualTo(TurnEnd.Cancelled), s2.ToString());
        Assert.That(s1.CutByKillHost, Is.True, s1.ToString());
        Assert.That(log.Audit.Any(r => r is { Kind: AuditKind.Denied, Tool: "desktop.press", SessionId: "sess-1" }), Is.True, string.Join('\n', log.Audit));

        // The host's own wire tap, streamed and rebuilt by the runner: the tap's accounting ran on the host's lines. It
        // saw the agent's _containmentlab/tool request and the bridge's one answer to it (the policy's refusal), and
        // the host's bridge handed on that very line (same number, same hash).
        var connection = log.Wire.Single();
        var (request, answers) = connection.AnswersByRequest().Single(p => p.Request.Head is { Method: "_containmentlab/tool", ToolName: "desktop.press", SessionId: "sess-1" });
        Assert.That(answers, Has.Count.EqualTo(1), () => string.Join('\n', connection.ToAgent.Lines.Select(l => l.Describe())));
        Assert.That(answers[0].Head.HasError, Is.True, answers[0].Describe());
        Assert.That(connection.BridgeReads[request.Number].Hash, Is.EqualTo(request.Hash));
        Assert.That(request.At, Is.GreaterThan(log.Actions[0].At).And.LessThan(log.Actions[1].At), "at the host's time: after s1's prompt, before s2's");

        // The agent's own account, read back from disk by the runner after the kill: it sent that request on that line.
        Assert.That(log.Accounts[connection.Index].Sent.Select(s => (s.Method, s.Line)), Does.Contain(("_containmentlab/tool", request.Number)));

        // The audit file the SIGKILLed host left: the dispatched record is written to the OS before the policy decides.
        Assert.That(log.AuditFile, Has.Some.Matches<AuditRecord>(r => r is { Kind: AuditKind.Dispatched, Tool: "desktop.press", SessionId: "sess-1" }), log.AuditFileError);

        // So the wire oracles judge the host's run on that evidence, not vacuously.
        foreach (var guarantee in new[] { "G1", "G3", "G4", "G8", "G9" })
        {
            Assert.That(GuaranteeChecks.Check(guarantee, log), Is.Null, guarantee);
        }

        // Replayed at the host's times: the watchdog fired a tool timeout after s2's prompt, and the kill came after it.
        var prompt2 = log.Actions[1].At;
        var hang = log.Events.Single(e => e.Event is ToolHangCanceled);
        Assert.That(hang.At - prompt2, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(log.Actions[2].At, Is.GreaterThan(hang.At));
        Assert.That(log.KillHost, Is.Not.Null.And.Property(nameof(KillHostRecord.Error)).Null);
    }

    [Test]
    public async Task KillHost_MidStorm_TheHostsTapIsJudgedUpToTheKill(CancellationToken cancellationToken)
    {
        // The host dies with four calls in flight: what its tap saw before its cut is judged in full, what the kill cut
        // is excused (RunLog.HostCutAt).
        var fixture = FixtureLoader.Load(Path.Combine(RepositoryPaths.Root, "fixtures", "kill-host-mid-storm.yaml"));
        await using var run = new HostProcessRun(fixture, Options);
        var log = await run.ExecuteAsync(cancellationToken);

        Assert.That(run.Problems, Is.Empty, () => string.Join('\n', run.Problems.Select(p => $"{p.Expectation}: {p.Detail}")));
        var connection = log.Wire.Single();
        var pairs = connection.AnswersByRequest();
        var cut = log.HostCutAt!.Value;
        var unanswered = pairs.Where(p => p.Answers.Count == 0).Select(p => p.Request).ToList();
        TestContext.Out.WriteLine($"cut at {cut}: {pairs.Count} requests in the host's tap, {unanswered.Count} unanswered ({string.Join(", ", unanswered.Select(r => $"{r.Head.Id} at {r.At}"))}); "
            + $"audit file: {log.AuditFile?.Count} records, the host's memory at its state: {log.Audit.Count}");
        Assert.Multiple(() =>
        {
            Assert.That(pairs.Count(p => p.Request.Head.Method == "_containmentlab/tool" && p.Request.At <= cut), Is.GreaterThanOrEqualTo(100), "every dispatch before the kill is on the host's tap");
            Assert.That(pairs.Where(p => p.Answers.Count > 0).Select(p => p.Answers.Count), Has.All.EqualTo(1));
            Assert.That(log.Accounts[1].Sent, Has.Count.GreaterThanOrEqualTo(pairs.Count), "the agent's own account, read after the kill, holds at least what the tap saw");
            foreach (var guarantee in new[] { "G1", "G3", "G4", "G8", "G9" })
            {
                Assert.That(GuaranteeChecks.Check(guarantee, log), Is.Null, guarantee);
            }
        });
    }

    [Test]
    public async Task KillHost_AfterEveryTurnEnded_TheHostsTimerSampleReachesTheRunner(CancellationToken cancellationToken)
    {
        // kill_host waits for the very TurnEnded whose turn record completes just after: the host waits for it, samples
        // the timers on its bridge's clock (still alive), and streams the sample with its state.
        const string text = """
            name: kill-host-after-the-turn
            description: the host samples its timers before it is killed
            agent:
              script:
                prompts:
                  - steps:
                      - tool: desktop.press
                        arguments: { target: OK }
            timeline:
              - prompt: s1
              - kill_host: true
                after: { event: TurnEnded, session: s1 }
            """;
        await using var run = new HostProcessRun(Parse(text), Options);
        var log = await run.ExecuteAsync(cancellationToken);

        Assert.That(run.Problems, Is.Empty, () => string.Join('\n', run.Problems.Select(p => $"{p.Expectation}: {p.Detail}")));
        Assert.That(log.Timers, Is.Not.Null, "sampled by the host before its state");
        Assert.That(log.Timers!.At, Is.LessThanOrEqualTo(log.HostCutAt!.Value));
        Assert.That(log.Timers.Armed.Where(o => o.StartsWith("ContainmentLab.Bridge.Watchdog", StringComparison.Ordinal)), Is.Empty, string.Join(", ", log.Timers.Armed));
        Assert.That(GuaranteeChecks.Check("G4", log), Is.Null);
    }

    [Test]
    public async Task KillHost_TerminalBelowTheHost_IsInTheTreeAndNothingIsLeftAfterTheRun(CancellationToken cancellationToken)
    {
        var fixture = FixtureLoader.Load(Path.Combine(RepositoryPaths.Root, "fixtures", "kill-host-terminal.yaml"));
        await using var run = new HostProcessRun(fixture, Options);
        var log = await run.ExecuteAsync(cancellationToken);

        var os = log.Os!;
        var tree = string.Join('\n', os.Processes);
        Assert.That(os.Unavailable, Is.Null);
        Assert.That(os.Processes.Count(p => p.Role == ProcessRole.Host), Is.EqualTo(1), tree);
        Assert.That(os.Processes.Count(p => p.Role == ProcessRole.Agent), Is.EqualTo(1), tree);

        // Found by the OS's process tree alone: a terminal carries no cookie, leads its own session and group.
        var terminal = os.Processes.Single(p => p.CommandLine == "sleep 300");
        Assert.That(terminal.SessionId, Is.EqualTo(terminal.Pid), tree);
        Assert.That(os.CleanupFailures, Is.Empty, tree);
        foreach (var process in os.Processes)
        {
            Assert.That(ProcFs.IsAlive(process.Pid, process.StartTime), Is.False, $"{process} is gone, from /proc");
        }
    }

    [Test]
    public void Fixture_JsonForTheHost_RoundTripsEveryFixture()
    {
        var root = Path.Combine(RepositoryPaths.Root, "fixtures");
        foreach (var path in Directory.GetFiles(root, "*.yaml", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}scripts{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            var json = JsonSerializer.Serialize(FixtureLoader.Load(path), HostStream.Options);
            var again = JsonSerializer.Serialize(JsonSerializer.Deserialize<Fixture>(json, HostStream.Options), HostStream.Options);
            Assert.That(again, Is.EqualTo(json), path);
        }
    }

    [Test]
    public void HostStream_Events_RoundTripByType()
    {
        var outcome = new TurnOutcome("sess-1", TurnEnd.AgentExited, null, true, TimeSpan.FromSeconds(2), null, false, "gone") { Exit = new AgentExit(null, 9, "tail") };
        ContainmentEvent[] events =
        [
            new AgentExited(DateTimeOffset.UnixEpoch, null, 9, "tail", "killed"),
            new TurnEnded(DateTimeOffset.UnixEpoch, "sess-1", outcome),
            new ToolCompleted(DateTimeOffset.UnixEpoch, "sess-1", "sess-1/t1", "desktop.press", AuditKind.Denied, "policy"),
            new InterruptRequested(DateTimeOffset.UnixEpoch, null, true, ["sess-1", "sess-2"]),
        ];
        foreach (var original in events)
        {
            var line = HostStream.Encode(HostStream.Event(TimeSpan.FromSeconds(1.5), original));
            var record = JsonSerializer.Deserialize<HostRecord>(line, HostStream.Options)!;
            var decoded = HostStream.DecodeEvent(record);
            Assert.That(decoded.GetType(), Is.EqualTo(original.GetType()));
            Assert.That(JsonSerializer.Serialize(decoded, decoded.GetType(), HostStream.Options), Is.EqualTo(JsonSerializer.Serialize(original, original.GetType(), HostStream.Options)));
            Assert.That(record.T, Is.EqualTo(TimeSpan.FromSeconds(1.5).Ticks));
        }
    }
}
