using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>G4 for the agent's own tools, tracked from session/update, in virtual time.</summary>
[TestFixture]
[Category("G4")]
[CancelAfter(30_000)]
public sealed class AgentSideToolTests
{
    private const string TwoSessions = """
        prompts:
          - steps:
              - agent_tool: { title: "Deploy", kind: execute, duration: 10m, heartbeat: 30s }
              - end: end_turn
          - steps:
              - agent_tool: { title: "Wait for review", kind: other, duration: forever, heartbeat: none }
        """;

    [Test]
    public async Task HeartbeatingToolLivesOn_WhileTheOtherSessionsSilentToolIsCancelled()
    {
        // The script's prompts are per session: each session's first prompt runs prompts[0], so the hung tool is
        // given to session B by prompting it twice (its second prompt runs prompts[1]).
        await using var lab = await InProcessBridge.StartAsync(TwoSessions, o => InProcessBridge.With(o, watchdog: new WatchdogOptions(), ackTimeout: TimeSpan.FromMinutes(30)));
        var a = await lab.Bridge.NewSessionAsync();
        var b = await lab.Bridge.NewSessionAsync();
        var warmUp = lab.Bridge.PromptAsync(b, "first");
        await Until.TrueAsync(() => lab.Bridge.ActiveWatches == 1, "B's first tool is watched");
        for (var elapsed = 0; elapsed < 600; elapsed += 30)
        {
            await StepAsync(lab);
        }

        Assert.That((await warmUp.OrTimeout()).End, Is.EqualTo(TurnEnd.Completed));
        var deploy = lab.Bridge.PromptAsync(a, "deploy");
        var review = lab.Bridge.PromptAsync(b, "wait");
        await Until.TrueAsync(() => lab.Bridge.ActiveWatches == 2, "both agent tools are watched");

        // Heartbeats every 30 s keep the deploy alive far past its 300 s ToolTimeout; the silent tool dies at 300 s.
        for (var elapsed = 0; elapsed < 300; elapsed += 30)
        {
            await StepAsync(lab);
        }

        var hang = await FirstHangAsync(lab);
        Assert.That(hang.SessionId, Is.EqualTo(b));
        Assert.That(hang.ToolName, Is.EqualTo("Wait for review"));
        Assert.That(hang.DurationSeconds, Is.EqualTo(300));
        var reviewOutcome = await review.OrTimeout();
        Assert.That(reviewOutcome.End, Is.EqualTo(TurnEnd.Cancelled), $"the watchdog interrupted B; the agent acked: {reviewOutcome}");

        for (var elapsed = 300; elapsed < 600; elapsed += 30)
        {
            await StepAsync(lab);
        }

        var deployOutcome = await deploy.OrTimeout();
        Assert.That(deployOutcome.End, Is.EqualTo(TurnEnd.Completed), "A's tool ran its 10 minutes, heartbeating");
        Assert.That(lab.Of<ToolHangCanceled>(), Has.Count.EqualTo(1));
        Assert.That(lab.Bridge.ActiveWatches, Is.Zero, "no timer outlives its tool");
    }

    /// <summary>
    /// 30 s of virtual time, then wait until the agent's next line (a heartbeat, at least) reached the bridge: in virtual
    /// time the test, not the clock, must let the agent's output through before time moves on.
    /// </summary>
    private static async Task StepAsync(InProcessBridge lab)
    {
        var before = lab.Tap.ReceivedLines;
        lab.Time.Advance(TimeSpan.FromSeconds(30));
        await Until.TrueAsync(() => lab.Tap.ReceivedLines > before, "the agent's output after 30 s");
    }

    private static async Task<ToolHangCanceled> FirstHangAsync(InProcessBridge lab)
    {
        await Until.TrueAsync(() => lab.Of<ToolHangCanceled>().Count > 0, "a ToolHangCanceled");
        return lab.Of<ToolHangCanceled>()[0];
    }
}
