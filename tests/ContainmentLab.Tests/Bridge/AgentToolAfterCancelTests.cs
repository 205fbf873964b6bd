using ContainmentLab.Bridge;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// Hole 8: once a session's gate is closed, a <c>tool_call</c> the agent reports for a new tool starts no watch (no
/// timer for a session already stopped); updates for a tool watched before the cancel still count and still end it.
/// In virtual time, with an agent that ignores the cancel.
/// </summary>
[TestFixture]
[Category("G4")]
[CancelAfter(30_000)]
public sealed class AgentToolAfterCancelTests
{
    [Test]
    public async Task ToolCallReportedAfterTheCancel_StartsNoWatch()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            on_cancel: ignore
            prompts:
              - steps:
                  - sleep: 1s
                  - agent_tool: { title: "Started after the cancel", duration: 2s, heartbeat: 1s }
                  - end: end_turn
            """, o => InProcessBridge.With(o, watchdog: new WatchdogOptions(), ackTimeout: TimeSpan.FromSeconds(30)));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "work");
        await Until.TrueAsync(() => lab.Tap.SentLines >= 3, "prompt on the wire");
        var before = lab.Tap.ReceivedLines;
        Assert.That(lab.Bridge.Interrupt(session), Is.True);

        // The tool's tool_call comes at 1 s, its heartbeat at 2 s: once the heartbeat is read, the tool_call was handled.
        await Until.TrueAsync(() => { lab.Time.Advance(TimeSpan.FromMilliseconds(100)); return lab.Tap.ReceivedLines >= before + 2; }, "the tool_call and its first heartbeat");

        Assert.That(lab.Bridge.ActiveWatches, Is.Zero, "a tool the agent starts after the cancel gets no watch (no timer)");
        Assert.That(turn.IsCompleted, Is.False, "the agent ignored the cancel; its turn runs on");
        var outcome = await EndAsync(lab, turn);
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(lab.Of<ContainmentLab.Events.ToolHangCanceled>(), Is.Empty);
    }

    [Test]
    public async Task ToolWatchedBeforeTheCancel_ItsCompletionAfterTheCancelEndsItsWatch()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            on_cancel: ignore
            prompts:
              - steps:
                  - agent_tool: { title: "Started before the cancel", duration: 2s, heartbeat: 1s }
                  - sleep: 1h
            """, o => InProcessBridge.With(o, watchdog: new WatchdogOptions(), ackTimeout: TimeSpan.FromHours(2)));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "work");
        await Until.TrueAsync(() => lab.Bridge.ActiveWatches == 1, "the tool is watched");
        Assert.That(lab.Bridge.Interrupt(session), Is.True);

        await Until.TrueAsync(() => { lab.Time.Advance(TimeSpan.FromMilliseconds(100)); return lab.Bridge.ActiveWatches == 0; }, "its completed update ends the watch");

        Assert.That(turn.IsCompleted, Is.False);
        Assert.That(lab.Of<ContainmentLab.Events.ToolHangCanceled>(), Is.Empty);
    }

    private static async Task<TurnOutcome> EndAsync(InProcessBridge lab, Task<TurnOutcome> turn)
    {
        await Until.TrueAsync(() => { lab.Time.Advance(TimeSpan.FromMilliseconds(500)); return turn.IsCompleted; }, "the turn ends as scripted");
        return await turn;
    }
}
