using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Os;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// Deliberate breaks of G5 and G7 on hand-made run logs: the OS's evidence shows the violation while the bridge's own
/// view says all is well (a death without AgentExited, a setsid'd leftover without the cookie), and the oracle names
/// the pid and the turn.
/// </summary>
[TestFixture]
[Category("G5")]
[Category("G7")]
[Category("Fixtures")]
public sealed class OsOracleTests
{
    private const int AgentPid = 4242;
    private static readonly TimeSpan s_died = TimeSpan.FromSeconds(1);

    private static readonly Fixture s_fixture = FixtureLoader.Parse("""
        name: t
        description: t
        agent:
          script: {}
        timeline:
          - prompt: s1
        expect:
          guarantees: [G3]
        """, "t.yaml");

    private static readonly Fixture s_killHost = FixtureLoader.Parse("""
        name: k
        description: k
        agent:
          script: {}
        timeline:
          - prompt: s1
          - kill_host: true
        """, "k.yaml");

    private static TurnRecord Turn(TimeSpan? endedAt, TurnEnd end = TurnEnd.AgentExited, string reason = "the agent exited (exit code 3)", bool pendingAtBound = false) => new("s1", "sess-1", 1, TimeSpan.FromSeconds(0.5))
    {
        EndedAt = endedAt,
        Outcome = endedAt is null ? null : new TurnOutcome("sess-1", end, null, false, endedAt.Value - TimeSpan.FromSeconds(0.5), null, false, reason),
        PendingAtBound = pendingAtBound,
    };

    private static ObservedProcess Process(int pid, string commandLine, ProcessRole role, TimeSpan? goneAt, TimeSpan? exitedAt = null, int parent = 1, int session = 0) =>
        new(pid, 777, role, AgentPid, parent, pid, session == 0 ? pid : session, commandLine, TimeSpan.FromSeconds(0.3), goneAt ?? TimeSpan.FromSeconds(40), goneAt, exitedAt);

    private static OsEvidence Evidence(TimeSpan runEndedAt, IReadOnlyList<AgentDeath>? deaths = null, IReadOnlyList<ObservedProcess>? leftovers = null) => new()
    {
        Processes = [Process(AgentPid, "sh -c agent", ProcessRole.Agent, s_died, s_died), .. leftovers ?? []],
        AgentDeaths = deaths ?? [new AgentDeath(AgentPid, "sh -c agent", s_died, "pidfd")],
        RunEndedAt = runEndedAt,
        Leftovers = leftovers ?? [],
        SettleBound = RunProcessWatch.SettleBound,
    };

    private static RecordedEvent Exited(TimeSpan at) => new(at, new AgentExited(DateTimeOffset.UnixEpoch, 3, null, string.Empty, "the agent exited"));

    private static RunLog Log(Fixture fixture, IReadOnlyList<RecordedEvent> events, TurnRecord turn, OsEvidence? os, KillHostRecord? kill = null) =>
        new(fixture, new BridgeOptions(), new Dictionary<string, string> { ["s1"] = "sess-1" }, events, [], [turn], [], [], kill) { Os = os };

    [Test]
    public void G5_DeathWithoutAgentExited_FailsNamingThePidAndTheTurn()
    {
        // The bridge's view: no AgentExited, so nothing to judge — the old oracle held. The OS saw the agent die at 1 s.
        var log = Log(s_fixture, [], Turn(endedAt: null, pendingAtBound: true), Evidence(runEndedAt: TimeSpan.FromSeconds(30)));

        var failure = GuaranteeChecks.Check("G5", log);

        Assert.That(failure, Does.StartWith("G5: the OS saw agent pid 4242 (`sh -c agent`) exit at 1.000s (pidfd), but the bridge never published AgentExited"));
        Assert.That(failure, Does.Contain("pending then: s1 turn 1 (never ended"));
    }

    [Test]
    public void G5_AgentExitedOnlyWhenTheBridgeWasStopped_FailsAsLate()
    {
        // The stdout-holder case: the bridge saw the death only when the runner disposed it, 29 s later.
        var log = Log(s_fixture, [Exited(TimeSpan.FromSeconds(30.2))], Turn(TimeSpan.FromSeconds(30.2)), Evidence(runEndedAt: TimeSpan.FromSeconds(30)));

        Assert.That(GuaranteeChecks.Check("G5", log), Does.Contain("AgentExited came only at 30.200s (tolerance 2s)").And.Contain("s1 turn 1 (ended at 30.200s"));
    }

    [Test]
    public void G5_TurnPendingAtTheDeathEndedLate_FailsNamingTheTurn()
    {
        var log = Log(s_fixture, [Exited(TimeSpan.FromSeconds(1.1))], Turn(TimeSpan.FromSeconds(5)), Evidence(runEndedAt: TimeSpan.FromSeconds(30)));

        Assert.That(GuaranteeChecks.Check("G5", log), Does.Contain("and s1 turn 1, pending then, only ended at 5.000s (tolerance 2s)"));
    }

    [Test]
    public void G5_TurnEndedAsATimeout_Fails()
    {
        var log = Log(s_fixture, [Exited(TimeSpan.FromSeconds(1.1))], Turn(TimeSpan.FromSeconds(1.2), TurnEnd.Failed, "the agent did not answer: timed out"), Evidence(runEndedAt: TimeSpan.FromSeconds(30)));

        Assert.That(GuaranteeChecks.Check("G5", log), Does.Contain("s1 turn 1 ended as a timeout"));
    }

    [Test]
    public void G5_AgentExitedAndTheTurnEndedWithinTheTolerance_Holds()
    {
        var log = Log(s_fixture, [Exited(TimeSpan.FromSeconds(1.3))], Turn(TimeSpan.FromSeconds(1.3)), Evidence(runEndedAt: TimeSpan.FromSeconds(30)));

        Assert.That(GuaranteeChecks.Check("G5", log), Is.Null);
    }

    [Test]
    public void G5_DeathAfterTheRunEnded_IsTheRunnersDoing()
    {
        var log = Log(s_fixture, [], Turn(TimeSpan.FromSeconds(0.9), TurnEnd.Completed), Evidence(runEndedAt: TimeSpan.FromSeconds(0.95)));

        Assert.That(GuaranteeChecks.Check("G5", log), Is.Null);
    }

    [Test]
    public void G5_WithoutOsEvidence_FallsBackToTheBridgesView()
    {
        var log = Log(s_fixture, [], Turn(endedAt: null, pendingAtBound: true), OsEvidence.None(RunProcessWatch.NoProcFs));

        Assert.That(GuaranteeChecks.Check("G5", log), Is.Null);
    }

    [Test]
    public void G7_SetsidLeftoverWithoutTheCookie_FailsNamingItWhileTheSweepSaysAllIsWell()
    {
        // The sweep's own view: it killed what carried the cookie and no process carries it now.
        var sweep = new KillHostRecord(TimeSpan.FromSeconds(2), 3, 0, [], null);
        var leftover = Process(5555, "sleep 300", ProcessRole.Descendant, goneAt: null, parent: 1, session: 5555);
        var log = Log(s_killHost, [], Turn(TimeSpan.FromSeconds(2)), Evidence(TimeSpan.FromSeconds(2), deaths: [], leftovers: [leftover]), sweep);

        var failure = GuaranteeChecks.Check("G7", log);

        Assert.That(failure, Does.StartWith("G7: 1 process of the run still alive 5s after the host was killed and the sweep ran: pid 5555 `sleep 300`"));
        Assert.That(failure, Does.Contain("first seen at 0.300s under pid 4242; parent 1, group 5555, session 5555"));
    }

    [Test]
    public void G7_CookieCarrierLeft_Fails()
    {
        var sweep = new KillHostRecord(TimeSpan.FromSeconds(2), 1, 1, ["c00kie"], null);

        Assert.That(GuaranteeChecks.Check("G7", Log(s_killHost, [], Turn(TimeSpan.FromSeconds(2)), Evidence(TimeSpan.FromSeconds(2)), sweep)), Does.Contain("still carry cookie c00kie"));
    }

    [Test]
    public void G7_TreeGoneAfterTheSweep_Holds()
    {
        var sweep = new KillHostRecord(TimeSpan.FromSeconds(2), 3, 0, [], null);

        Assert.That(GuaranteeChecks.Check("G7", Log(s_killHost, [], Turn(TimeSpan.FromSeconds(2)), Evidence(TimeSpan.FromSeconds(2)), sweep)), Is.Null);
    }

    [Test]
    public void Judge_LeftoverOfAFixtureThatListsNoG7_FailsAsNothingLeftRunning()
    {
        var leftover = Process(6666, "daemon --forked", ProcessRole.Descendant, goneAt: null);
        var log = Log(s_fixture, [Exited(TimeSpan.FromSeconds(1.1))], Turn(TimeSpan.FromSeconds(1.1)), Evidence(TimeSpan.FromSeconds(3), leftovers: [leftover]));

        var result = Judge.Evaluate(log, [], TimeSpan.FromSeconds(3), null);

        Assert.That(result.Verdict, Is.EqualTo(Verdict.Failed));
        var failure = result.Failures.Single(f => f.Expectation == "nothing left running");
        Assert.That(failure.Detail, Does.Contain("pid 6666 `daemon --forked`").And.Contain("after the bridge stopped"));
    }
}
