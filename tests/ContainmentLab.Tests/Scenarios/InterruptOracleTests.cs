using ContainmentLab.Dispatch;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Evidence;
using static ContainmentLab.Tests.Scenarios.WireBuilder;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The fixture runner's G1 oracle on hand-made evidence: the bridge's audit log is clean (no dispatch after its
/// interrupt record), yet the wire shows a call allowed after Stop returned, or the agent's account a success for a
/// request it sent after the cancel. The oracle must catch it by the tap's and the account's word alone.
/// </summary>
[TestFixture]
[Category("G1")]
[Category("Fixtures")]
public sealed class InterruptOracleTests
{
    private static string? G1(RunLog log) => GuaranteeChecks.Check("G1", log);

    /// <summary>The interrupt of s1, called at 2.000 s, returned at 2.010 s; the audit log shows nothing wrong.</summary>
    private static RunLog Log(TapConnectionRecord wire, string action = "interrupt: s1", IReadOnlyDictionary<int, AgentAccountRecord>? accounts = null)
    {
        var fixture = Fixture($"  - prompt: s1\n  - {action}\n    at: 2s\n");
        var interrupt = fixture.Timeline[1];
        var clean = new[] { Audit(1, 1.5, AuditKind.Dispatched, "t1"), Audit(2, 1.6, AuditKind.Completed, "t1"), new AuditRecord(3, DateTimeOffset.UnixEpoch + S(2), AuditKind.Interrupted, "sess-1", null, null, null, "user") };
        return WireBuilder.Log([wire], actions: [new ActionRecord(interrupt, interrupt.Kind == ActionKind.Interrupt ? "sess-1" : null, S(2), S(0.01), null)], turns: [Turn(1, 3, interrupted: true)], auditFile: clean, timeline: $"  - prompt: s1\n  - {action}\n    at: 2s\n")
            with { Accounts = accounts ?? new Dictionary<int, AgentAccountRecord>() };
    }

    private static WireBuilder Session() => new WireBuilder().Bridge(0.1, NewSession(1)).Agent(0.2, Result(1, "{\"sessionId\":\"sess-1\"}"));

    [Test]
    public void G1_CallsAfterTheInterruptReturnedAllRefused_Holds()
    {
        var wire = Session()
            .Agent(1.5, Tool(0, "t1")).Bridge(1.6, Result(0))
            .Agent(2.05, Tool(1, "t2")).Bridge(2.06, Error(1))
            .Agent(2.07, Permission(2, "p1")).Bridge(2.08, Result(2, "{\"outcome\":{\"outcome\":\"cancelled\"}}"));

        Assert.That(G1(Log(wire.Build())), Is.Null);
    }

    [Test]
    public void G1_ACallAllowedAfterTheInterruptReturned_IsCaughtByItsId()
    {
        var wire = Session().Agent(2.011, Tool(12, "t2")).Bridge(2.02, Result(12));

        Assert.That(G1(Log(wire.Build())), Is.EqualTo(
            "G1: request 12 ('_containmentlab/tool' desktop.press) of session s1 reached the bridge at 2.011s (agent 1, wire line 2), after interrupt returned at 2.010s, and was answered with a result (line 2 to the agent)"));
    }

    [Test]
    public void G1_ACallThatArrivedBeforeTheInterruptReturned_IsNotJudgedByIt()
    {
        var wire = Session().Agent(2.005, Tool(12, "t2")).Bridge(2.02, Result(12));

        Assert.That(G1(Log(wire.Build())), Is.Null);
    }

    [Test]
    public void G1_APermissionAllowedAfterInterruptAll_IsCaught()
    {
        var wire = Session().Agent(2.5, Permission(4, "p1")).Bridge(2.6, Result(4, "{\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"allow\"}}"));

        Assert.That(G1(Log(wire.Build(), "interrupt_all: true")), Does.StartWith("G1: request 4 ('session/request_permission') of session s1").And.Contain("after interrupt_all returned at 2.010s, and was answered with 'selected'"));
    }

    [Test]
    public void G1_ASuccessForARequestTheAgentSentAfterTheCancel_IsCaughtFromItsAccount()
    {
        var account = new AgentAccountRecord("a", 1, [new AccountSent(7, "5", "fs/write_text_file", "sess-1", true)], [new AccountAnswer(9, "5", true, null, null, true)],
            [new AccountReceived(6, "session/cancel", null, "sess-1", false)], null, null, null);

        Assert.That(G1(Log(Session().Build(), accounts: new Dictionary<int, AgentAccountRecord> { [1] = account })), Is.EqualTo(
            "G1: the agent's account (agent 1): it sent request 5 ('fs/write_text_file', its line 7) after it had received session/cancel for s1, and the bridge answered it with a result (its input line 9)"));
    }

    [Test]
    public void G1_APromptForACancelledSession_IsCaughtFromTheAccount()
    {
        var account = new AgentAccountRecord("a", 1, [], [], [new AccountReceived(6, "session/cancel", null, "sess-1", false), new AccountReceived(8, "session/prompt", "4", "sess-1", true)], null, null, null);

        Assert.That(G1(Log(Session().Build(), accounts: new Dictionary<int, AgentAccountRecord> { [1] = account })), Does.Contain("sent it a prompt for s1 (its input line 8) after that session's session/cancel"));
    }
}
