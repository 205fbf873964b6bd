using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Scenarios;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>The fixture runner's G6 oracle on hand-made run logs: an interrupt that waited on the full pipe is caught by causality, not by a clock limit.</summary>
[TestFixture]
[Category("G6")]
[Category("Fixtures")]
public sealed class WedgedOracleTests
{
    private static readonly TimeSpan s_wedgedAt = TimeSpan.FromSeconds(2.5);

    private static RunLog Log(TimeSpan interruptAt, TimeSpan took, bool turnEnded = true)
    {
        var fixture = FixtureLoader.Parse("""
            name: t
            description: t
            agent:
              script: {}
            timeline:
              - prompt: s1
              - interrupt_all:
                at: 1800ms
            """, "t.yaml");
        var interrupt = fixture.Timeline.Single(a => a.Kind == ActionKind.InterruptAll);
        var turn = new TurnRecord("s1", "sess-1", 1, TimeSpan.FromSeconds(1));
        if (turnEnded)
        {
            turn.EndedAt = TimeSpan.FromSeconds(3);
            turn.Outcome = new TurnOutcome("sess-1", TurnEnd.AgentExited, null, true, TimeSpan.FromSeconds(2), null, false, "wedged");
        }

        var wedged = new RecordedEvent(s_wedgedAt, new AgentWedged(DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(1), 3));
        return new RunLog(fixture, new BridgeOptions(), new Dictionary<string, string> { ["s1"] = "sess-1" }, [wedged],
            [new ActionRecord(interrupt, null, interruptAt, took, null)], [turn], [], [], null);
    }

    [Test]
    public void G6_InterruptReturnedBeforeTheWedge_Holds()
    {
        Assert.That(GuaranteeChecks.Check("G6", Log(TimeSpan.FromSeconds(1.8), TimeSpan.FromMilliseconds(2))), Is.Null);
    }

    [Test]
    public void G6_InterruptReturnedOnlyAfterTheWedge_IsCaught()
    {
        var failure = GuaranteeChecks.Check("G6", Log(TimeSpan.FromSeconds(1.8), TimeSpan.FromMilliseconds(750)));

        Assert.That(failure, Does.StartWith("G6: interrupt_all").And.Contain("returned only after the agent was declared wedged (2.500s)"));
    }

    [Test]
    public void G6_InterruptMadeAfterTheWedge_IsNotJudgedByIt()
    {
        Assert.That(GuaranteeChecks.Check("G6", Log(TimeSpan.FromSeconds(2.6), TimeSpan.FromMilliseconds(300))), Is.Null);
    }

    [Test]
    public void G6_ATurnThatNeverEnded_IsCaught()
    {
        Assert.That(GuaranteeChecks.Check("G6", Log(TimeSpan.FromSeconds(1.8), TimeSpan.FromMilliseconds(2), turnEnded: false)), Does.Contain("never ended"));
    }
}
