using ContainmentLab.Bridge;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Evidence;
using static ContainmentLab.Tests.Scenarios.WireBuilder;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The fixture runner's G3 oracle on hand-made evidence: the bridge reports the turn cancelled and acknowledged, yet
/// the wire shows the ack came long after AckTimeout with no escalation, or never came and the agent was left alive.
/// </summary>
[TestFixture]
[Category("G3")]
[Category("Fixtures")]
public sealed class AckOracleTests
{
    private static readonly BridgeOptions s_options = new() { AckTimeout = TimeSpan.FromSeconds(1) };

    private static string? G3(TapConnectionRecord wire) =>
        GuaranteeChecks.Check("G3", WireBuilder.Log([wire], s_options, turns: [Turn(1, 6, TurnEnd.Cancelled, interrupted: true)]));

    /// <summary>The prompt (id 2) at 1 s, its session's cancel at 2 s.</summary>
    private static WireBuilder Cancelled() => new WireBuilder().Bridge(1.0, Prompt(2)).Bridge(2.0, Cancel());

    private static string Ack => Result(2, "{\"stopReason\":\"cancelled\"}");

    [Test]
    public void G3_AckWithinAckTimeoutOfTheCancelLine_Holds()
    {
        Assert.That(G3(Cancelled().Agent(2.3, Ack).Build()), Is.Null);
    }

    [Test]
    public void G3_NoAckButEscalatedInTime_Holds()
    {
        Assert.That(G3(Cancelled().Waiting(1.5).GiveUp(3.05).Build()), Is.Null);
    }

    [Test]
    public void G3_NoAckButTheAgentDied_Holds()
    {
        Assert.That(G3(Cancelled().AgentEnd(2.5).Exited(2.5, 3).Build()), Is.Null);
    }

    [Test]
    public void G3_ALateAckTheBridgeTookWithoutEscalating_IsCaught()
    {
        Assert.That(G3(Cancelled().Agent(4.5, Ack).Build()), Is.EqualTo(
            "G3: session s1's ack (the answer to prompt 2, agent 1 wire line 1) came 2500ms after the session/cancel (bridge line 2 at 2.000s), over AckTimeout 1s + 1s, and the bridge had not stopped the agent"));
    }

    [Test]
    public void G3_NoAckAndALateEscalation_IsCaught()
    {
        Assert.That(G3(Cancelled().Waiting(1.5).GiveUp(5).Build()), Does.StartWith("G3: session s1's prompt 2 was never answered after the session/cancel (bridge line 2 at 2.000s)").And.EndsWith("(the first stop came at 5.000s)"));
    }

    [Test]
    public void G3_ACancelAfterTheTurnWasAnswered_OwesNoAck()
    {
        Assert.That(G3(new WireBuilder().Bridge(1.0, Prompt(2)).Agent(1.5, Result(2, "{\"stopReason\":\"end_turn\"}")).Bridge(2.0, Cancel()).Build()), Is.Null);
    }
}
