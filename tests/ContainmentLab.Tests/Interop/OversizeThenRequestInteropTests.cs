using System.Collections.Concurrent;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Interop;

/// <summary>
/// G9 from outside, over real pipes: an agent ContainmentLab did not write (tests/interop/oversize-then-request-agent.mjs,
/// plain Node) sends a 64 MiB request — its id and method after its huge params in three of four rounds — and right
/// after it a request that fits, meeting the end of the huge line in a different way each round. Every request it sent
/// must be answered (by the agent's own account, not the bridge's), the turn must end on its own with the agent's
/// <c>end_turn</c>, and the agent must be gone afterwards.
/// </summary>
[TestFixture]
[Category("Interop")]
[Category("Process")]
[Category("G9")]
[NonParallelizable]
public sealed class OversizeThenRequestInteropTests
{
    private const string Agent = "oversize-then-request-agent.mjs";

    private string? _sandbox;
    private string? _reportPath;

    [TearDown]
    public void DeleteFiles()
    {
        if (_sandbox is not null && Directory.Exists(_sandbox))
        {
            Directory.Delete(_sandbox, recursive: true);
        }

        if (_reportPath is not null)
        {
            File.Delete(_reportPath);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task SixtyFourMiBRequestThenRequest_RealBridge_EveryRequestAnsweredAndTurnEndsOnItsOwn(CancellationToken cancellationToken)
    {
        var sandbox = _sandbox = Directory.CreateTempSubdirectory("cl-oversize-interop-").FullName;
        var reportPath = _reportPath = Path.Combine(Path.GetTempPath(), $"cl-oversize-agent-{Guid.NewGuid():N}.jsonl");
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = new AgentCommand(InteropSetup.Node, [InteropSetup.Script(Agent), "--report", reportPath]) { WorkingDirectory = InteropSetup.InteropDirectory },
            SandboxRoot = sandbox,
            ConfirmAsync = (_, _) => ValueTask.FromResult(true),
            ShutdownGrace = TimeSpan.FromSeconds(2),
        });
        bridge.Events.Subscribe(events.Enqueue);
        int? pid = null;
        TurnOutcome? outcome = null;
        try
        {
            await bridge.StartAsync(cancellationToken);
            pid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync(cancellationToken: cancellationToken);

            // Nothing here presses Stop: a request left unanswered leaves the turn open until this bound, and the test fails
            // below with the agent's own list of what it still waits for.
            outcome = await bridge.PromptAsync(session, "write huge lines", cancellationToken).OrTimeout(90);
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            await bridge.DisposeAsync();
            if (pid is { } agentPid)
            {
                await ChildAgent.AssertGoneAsync(agentPid);
            }
        }

        var report = File.ReadLines(reportPath).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var context = string.Join('\n', report.Select(e => e.GetRawText()));
        var sent = report.Where(e => e.GetProperty("event").GetString() == "sent").Select(e => e.GetProperty("id").ToString()).ToList();
        var answers = report.Where(e => e.GetProperty("event").GetString() == "answer").ToList();
        var unanswered = sent.Except(answers.Select(a => a.GetProperty("id").ToString())).ToList();
        Assert.That(outcome, Is.Not.Null, () => $"the turn had not ended after 90 s; the agent still waits for {string.Join(", ", unanswered)}:\n{context}");
        Assert.Multiple(() =>
        {
            Assert.That(outcome!.End, Is.EqualTo(TurnEnd.Completed), () => $"{outcome}\n{context}");
            Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn), "the agent found every answer right: " + context);
            Assert.That(sent, Has.Count.EqualTo(8), context);
            Assert.That(answers.Select(a => a.GetProperty("id").ToString()), Is.EquivalentTo(sent), "each request answered once, under its own id: " + context);
            Assert.That(
                answers.Where(a => a.GetProperty("id").ToString().StartsWith("huge-", StringComparison.Ordinal)).Select(a => a.GetProperty("code").GetInt32()),
                Is.EqualTo(Enumerable.Repeat(-32600, 4)),
                "each 64 MiB request refused as too long, under its id");
            Assert.That(answers.Where(a => !a.GetProperty("id").ToString().StartsWith("huge-", StringComparison.Ordinal)).Select(a => a.GetProperty("ok").GetBoolean()), Is.All.True);
            Assert.That(events.OfType<ProtocolViolation>().Select(v => v.Reason).ToList(), Has.Count.EqualTo(4).And.All.Contains("exceeds the"), "the four huge lines, and nothing else, reported");
            Assert.That(
                bridge.Audit.Snapshot().Where(r => r.Kind == AuditKind.Completed).Select(r => r.Tool),
                Is.EqualTo(Enumerable.Repeat("fs/write_text_file", 3)),
                "the three writes after the huge lines ran");
            Assert.That(Enumerable.Range(1, 3).Select(k => File.Exists(Path.Combine(sandbox, $"round-{k}.txt"))), Is.All.True);
            Assert.That(File.Exists(Path.Combine(sandbox, "huge.txt")), Is.False, "no huge request ran");
            Assert.That(events.OfType<PermissionAnswered>().Count(), Is.EqualTo(1), "the permission asked after the fourth huge line was answered");
        });
    }

    /// <summary>The same agent run by the CLI from its fixture, as a user would: the fixture's expectations must hold.</summary>
    [Test]
    [CancelAfter(120_000)]
    public async Task OversizeThenRequestFixture_RunByTheCli_Passes(CancellationToken cancellationToken)
    {
        var run = await NodeProcess.RunAsync(InteropSetup.CliPath, ["run", "tests/interop/oversize-then-request.yaml"], InteropSetup.RepositoryRoot, TimeSpan.FromSeconds(90), cancellationToken);

        var context = $"exit code {run.ExitCode}\nstdout: {run.Stdout}\nstderr: {run.Stderr}";
        await ChildAgent.AssertGoneAsync(run.ProcessId);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, context);
            Assert.That(run.Stdout, Does.Contain("1 of 1 fixtures passed."), context);
            Assert.That(run.Stdout, Does.Contain("Completed (end_turn)"), context);
        });
    }
}
