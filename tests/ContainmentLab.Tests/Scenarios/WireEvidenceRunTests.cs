using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Evidence;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The evidence a real fixture run collects beside the bridge: the runner's wire tap (every line both ways, the
/// bridge's own line numbers beside it, per agent process), the fake agent's own account, the audit file and the
/// timers armed on the bridge's clock. The oracles are only as good as this evidence is complete.
/// </summary>
[TestFixture]
[Category("Fixtures")]
[Category("Process")]
[Parallelizable(ParallelScope.Children)]
public sealed class WireEvidenceRunTests
{
    private static async Task<RunLog> RunAsync(string fixture, CancellationToken cancellationToken)
    {
        var loaded = FixtureLoader.Load(Path.Combine(RepositoryPaths.Root, "fixtures", fixture));
        await using var run = new ScenarioRun(loaded, new ScenarioRunOptions());
        var log = await run.ExecuteAsync(cancellationToken);
        Assert.That(run.Problems, Is.Empty, string.Join("; ", run.Problems.Select(p => p.Detail)));
        return log;
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ExecuteAsync_Storm_TapAccountAuditAndTimersAreComplete(CancellationToken cancellationToken)
    {
        var log = await RunAsync("storm-interrupt-session.yaml", cancellationToken);

        var connection = log.Wire.Single();
        Assert.That(connection.FromAgent.Lines, Is.Not.Empty);
        Assert.That(connection.FromAgent.EndedAt, Is.Not.Null, "the bridge read the agent's stdout to its end");
        Assert.That(connection.BridgeReads.Keys.Order(), Is.EqualTo(connection.FromAgent.Lines.Select(l => l.Number)), "the bridge's line numbers are the tap's, on this connection");
        Assert.That(connection.FromAgent.Lines.All(l => connection.BridgeReads[l.Number].Hash == l.Hash && connection.BridgeReads[l.Number].Length == l.Length), Is.True, "and so are the lines' bytes");

        var requests = connection.Requests.Where(r => r.Head.Method == "_containmentlab/tool").ToList();
        Assert.That(requests, Has.Count.GreaterThan(600), "both storms' calls");
        Assert.That(connection.AnswersByRequest().All(p => p.Answers.Count == 1), Is.True, "each answered once, on the tap");

        var account = log.Accounts[1];
        Assert.That(account.Problem, Is.Null);
        Assert.That(account.ProcessId, Is.EqualTo(connection.ProcessId));
        Assert.That(account.Sent.Select(s => s.Id), Is.EqualTo(connection.Requests.Select(r => r.Head.Id)), "the agent's account names the requests the tap saw, in order");
        Assert.That(account.Exit, Is.Not.Null);
        Assert.That(account.Exit!.LinesWritten, Is.EqualTo(connection.FromAgent.Lines.Count(l => l.Complete)));
        Assert.That(account.Received.Any(r => r.Method == "session/cancel"), Is.True, "it saw s1's cancel");

        Assert.That(log.AuditFile, Is.Not.Null.And.Not.Empty, log.AuditFileError);
        Assert.That(log.AuditFile!.Count, Is.EqualTo(log.Audit.Count), "the file holds what the bridge kept in memory");
        Assert.That(log.Timers, Is.Not.Null, "sampled once the turns had ended");
        Assert.That(log.Timers!.Armed.Where(o => o.Contains("Watchdog", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ExecuteAsync_IgnoredCancel_TheAgentsAccountHasCallsAfterTheCancelAndTheirErrors(CancellationToken cancellationToken)
    {
        var log = await RunAsync("storm-after-ignored-cancel.yaml", cancellationToken);

        var account = log.Accounts[1];
        var after = account.Sent.Where(s => s.AfterCancel).ToList();
        Assert.That(after, Is.Not.Empty, "the storm went on after the agent had read the cancel: G1's account check has something to judge");
        Assert.That(after.Select(s => account.Answers.FirstOrDefault(a => a.Id == s.Id)).Where(a => a is not null).Select(a => a!.Error), Is.All.Not.Null);
        Assert.That(log.Wire.Single().GaveUpHow, Is.EqualTo("killed"), "escalation, seen on the transport");
        Assert.That(GuaranteeChecks.Check("G1", log), Is.Null);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ExecuteAsync_CrashAndRestart_EachAgentHasItsOwnTapAndAccount(CancellationToken cancellationToken)
    {
        var log = await RunAsync("crash-restart.yaml", cancellationToken);

        Assert.That(log.Wire.Select(c => c.Index), Is.EqualTo(new[] { 1, 2 }));
        foreach (var connection in log.Wire)
        {
            Assert.That(connection.BridgeReads.Keys.Order(), Is.EqualTo(connection.FromAgent.Lines.Select(l => l.Number)), $"agent {connection.Index}: the bridge's reads are told apart by agent");
            Assert.That(log.Accounts[connection.Index].ProcessId, Is.EqualTo(connection.ProcessId));
        }

        var first = log.Wire[0];
        Assert.That(first.AgentDiedFirst, Is.True, "the first agent died by itself (SIGKILL from its script)");
        Assert.That(first.Exit?.Signal, Is.EqualTo(9));
        Assert.That(log.Accounts[1].Exit, Is.Not.Null.And.Property(nameof(AccountExit.Crash)).True, "a killed agent's account runs up to its death");
    }
}
