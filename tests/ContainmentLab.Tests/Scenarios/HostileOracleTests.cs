using System.Text;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Evidence;
using static ContainmentLab.Tests.Scenarios.WireBuilder;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The fixture runner's G9 oracle on hand-made evidence: each break is one the bridge's own view cannot show (no
/// event, no failed turn), and the oracle must catch it from the wire tap and the agent's account alone, naming the
/// wire line or the request id.
/// </summary>
[TestFixture]
[Category("G9")]
[Category("Fixtures")]
public sealed class HostileOracleTests
{
    private static readonly DateTimeOffset s_at = DateTimeOffset.UnixEpoch;

    private static string? G9(RunLog log) => GuaranteeChecks.Check("G9", log);

    private static RunLog Log(params TapConnectionRecord[] wire) => WireBuilder.Log(wire, turns: [Turn(0.5, 3)]);

    [Test]
    public void G9_EveryLineReadEveryRequestAnsweredOnce_Holds()
    {
        var wire = new WireBuilder()
            .Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0))
            .Agent(1.2, Tool(1, "t2")).Bridge(1.3, Error(1))
            .Waiting(1.4)
            .GiveUp(5, "stopped");

        Assert.That(G9(Log(wire.Build())), Is.Null);
    }

    [Test]
    public void G9_ALineTheBridgeNeverHandedOn_IsCaughtByTheReadAfterIt()
    {
        // The bridge's view: lines 1 and 3, no violation, the turn completed. The tap: its reader took line 2 off the
        // pipe and asked for more without handing it on (the 64 MiB-line loss of issue 9).
        var wire = new WireBuilder()
            .Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0))
            .Agent(1.2, Tool(1, "t2"), bridgeReads: false)
            .Agent(1.3, Tool(2, "t3")).Bridge(1.4, Result(2))
            .Waiting(1.5)
            .GiveUp(5, "stopped");

        Assert.That(G9(Log(wire.Build())), Does.StartWith("G9: the agent's wire line 2 (agent 1: request 1 '_containmentlab/tool'").And.Contain("without ever handing it on"));
    }

    [Test]
    public void G9_TheBridgesLineNumbersShiftedPastALostLine_AreNotTheAgents()
    {
        // The same loss as the bridge numbers it: what it calls line 2 is the agent's line 3.
        var wire = new WireBuilder()
            .Agent(1.0, Tool(0, "t1"))
            .Agent(1.2, Tool(1, "t2"), bridgeReads: false)
            .Agent(1.3, Tool(2, "t3"), bridgeNumber: 2)
            .Waiting(1.5);

        Assert.That(G9(Log(wire.Build())), Does.StartWith("G9: the bridge's wire line 2 of agent 1 is not the agent's: the agent wrote request 1 '_containmentlab/tool'"));
    }

    [Test]
    public void G9_ALineOverTheLimitReportedEmpty_IsTheAgentsLine()
    {
        var big = new string('x', new FramingOptions().MaxLineBytes + 10);
        var wire = new WireBuilder().Raw(1.0, Encoding.UTF8.GetBytes(big + "\n")).BridgeRead(1, string.Empty).Waiting(1.5);

        Assert.That(G9(Log(wire.Build())), Is.Null);
    }

    [Test]
    public void G9_ALastFragmentAtEndOfStreamNeverHandedOn_IsCaught()
    {
        var wire = new WireBuilder().Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0))
            .Raw(1.2, "{\"jsonrpc\":\"2.0\""u8.ToArray()).AgentEnd(1.3).Exited(1.3, 3).GiveUp(1.6);

        Assert.That(G9(Log(wire.Build())), Does.StartWith("G9: the agent's last wire line 2 (agent 1: unreadable line, 16 bytes, no LF before its end of stream at 1.300s)"));
    }

    [Test]
    public void G9_LinesNotReadWhenTheBridgeStoppedTheAgent_AreExcused()
    {
        // Escalation: the bridge killed the agent while its reader still held a line, and read no more.
        var wire = new WireBuilder().Agent(1.0, Tool(0, "t1"), bridgeReads: false).GiveUp(1.1).Exited(1.2, null, 9);

        Assert.That(G9(Log(wire.Build())), Is.Null);
    }

    [Test]
    public void G9_ARequestNeverAnswered_NamesItsIdAndLine()
    {
        var wire = new WireBuilder().Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).Agent(1.2, Tool(910, "t2")).Waiting(1.3).GiveUp(9, "stopped");
        var file = new[] { Audit(1, 1.05, AuditKind.Completed, "t1"), Audit(2, 1.25, AuditKind.Completed, "t2") };

        Assert.That(
            G9(WireBuilder.Log([wire.Build()], turns: [Turn(0.5, 3)], auditFile: file)),
            Is.EqualTo("G9: the agent's request 910 ('_containmentlab/tool' desktop.press, agent 1 wire line 2, read at 1.200s) was never answered, though the bridge was done with it at 1.250s (audit file); the agent was stopped only at 9.000s"));
    }

    [Test]
    public void G9_TheSameIdTwiceAnsweredOnce_IsCaught()
    {
        var wire = new WireBuilder().Agent(1.0, Tool(7, "t1")).Agent(1.1, Tool(7, "t2")).Bridge(1.2, Result(7)).Waiting(1.3).GiveUp(9);

        Assert.That(G9(Log(wire.Build())), Does.StartWith("G9: the agent's request 7 ('_containmentlab/tool' desktop.press, agent 1 wire line 2").And.Contain("never answered"));
    }

    [Test]
    public void G9_ARequestAnsweredTwice_IsCaught()
    {
        var wire = new WireBuilder().Agent(1.0, Tool(3, "t1")).Bridge(1.2, Result(3)).Bridge(1.3, Error(3)).Waiting(1.4);

        Assert.That(G9(Log(wire.Build())), Does.Contain("request 3").And.Contain("was answered 2 times (lines 1, 2 to the agent)"));
    }

    [Test]
    public void G9_UnansweredBecauseTheAgentDiedFirst_Holds()
    {
        var wire = new WireBuilder().Agent(1.0, Tool(0, "t1")).AgentEnd(2).Exited(2, null, 9).GiveUp(2.5);

        Assert.That(G9(Log(wire.Build())), Is.Null);
    }

    [Test]
    public void G9_StillBeingHandledWhenTheBridgeStoppedTheAgent_Holds()
    {
        // A tool still running (dispatched, no terminal record yet) when the bridge escalated: its answer cannot come.
        var wire = new WireBuilder().Agent(1.0, Tool(0, "t1")).Waiting(1.1).GiveUp(4).AgentEnd(4.1);
        var running = WireBuilder.Log([wire.Build()], turns: [Turn(0.5, 3)], auditFile: [Audit(1, 1.05, AuditKind.Dispatched, "t1")]);
        var done = WireBuilder.Log([wire.Build()], turns: [Turn(0.5, 3)], auditFile: [Audit(1, 1.05, AuditKind.Dispatched, "t1"), Audit(2, 1.1, AuditKind.Completed, "t1")]);

        Assert.That(G9(running), Is.Null);
        Assert.That(G9(done), Does.Contain("request 0").And.Contain("never answered, though the bridge was done with it at 1.100s"));
    }

    [Test]
    public void G9_UnansweredOnARestartedAgent_IsCaught()
    {
        var first = new WireBuilder(1).Agent(1.0, Tool(0, "t1")).AgentEnd(3).Exited(3, null, 9).GiveUp(3.1);
        var second = new WireBuilder(2, startedAt: 4).Agent(6, Tool(0, "t1")).Waiting(6.1).GiveUp(20, "stopped");

        Assert.That(G9(Log(first.Build(), second.Build())), Does.StartWith("G9: the agent's request 0 ('_containmentlab/tool' desktop.press, agent 2 wire line 1"));
    }

    [Test]
    public void G9_ARequestTheAgentSaysItSentThatNeverReachedTheBridge_IsCaught()
    {
        var wire = new WireBuilder(accountPath: "a").Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).AgentEnd(2).GiveUp(2.1);
        var account = new AgentAccountRecord("a", 42, [new AccountSent(1, "0", "_containmentlab/tool", "sess-1", false), new AccountSent(2, "1", "fs/read_text_file", "sess-1", false)],
            [new AccountAnswer(3, "0", true, null, null, false)], [], new AccountExit("input ended", false, 2, 3), null, null);
        var log = Log(wire.Build()) with { Accounts = new Dictionary<int, AgentAccountRecord> { [1] = account } };

        Assert.That(G9(log), Is.EqualTo("G9: agent 1's own account has request 1 ('fs/read_text_file') on its output line 2, but the tap read the agent's stdout to its end and saw 1 lines"));
    }

    [Test]
    public void G9_AnAnswerTheBridgeWroteThatTheAgentNeverGot_IsCaught()
    {
        var wire = new WireBuilder(accountPath: "a").Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).AgentEnd(2).GiveUp(2.1);
        var account = new AgentAccountRecord("a", 42, [new AccountSent(1, "0", "_containmentlab/tool", "sess-1", false)], [], [], new AccountExit("input ended", false, 1, 1), null, null);
        var log = Log(wire.Build()) with { Accounts = new Dictionary<int, AgentAccountRecord> { [1] = account } };

        Assert.That(G9(log), Does.StartWith("G9: agent 1's own account: the bridge wrote the answer to request 0").And.Contain("without it"));
    }

    [Test]
    public void G9_LineCountsThatDisagreeWithTheAgentsAccount_AreCaught()
    {
        var wire = new WireBuilder(accountPath: "a").Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).AgentEnd(2).GiveUp(2.1);
        var account = new AgentAccountRecord("a", 42, [new AccountSent(1, "0", "_containmentlab/tool", "sess-1", false)], [new AccountAnswer(1, "0", true, null, null, false)], [],
            new AccountExit("input ended", false, 3, 1), null, null);
        var log = Log(wire.Build()) with { Accounts = new Dictionary<int, AgentAccountRecord> { [1] = account } };

        Assert.That(G9(log), Is.EqualTo("G9: agent 1's own account says it wrote 3 lines (input ended); the tap read 1 from its stdout, to its end"));
    }

    [Test]
    public void G9_DispatchOutsideAnyTurnOfItsSession_IsCaught()
    {
        var inside = Event(2, new ToolDispatched(s_at, "sess-1", "sess-1/t1", "desktop.press", 1));
        var after = Event(5, new ToolDispatched(s_at, "sess-1", "sess-1/t2", "desktop.press", 3));

        Assert.That(G9(WireBuilder.Log([], events: [inside], turns: [Turn(1, 4)])), Is.Null);
        Assert.That(G9(WireBuilder.Log([], events: [inside, after], turns: [Turn(1, 4)])), Does.StartWith("G9: sess-1/t2 (desktop.press) was dispatched in session s1 at 5"));
    }
}
