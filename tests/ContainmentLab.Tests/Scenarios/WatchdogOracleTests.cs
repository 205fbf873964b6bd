using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Evidence;
using static ContainmentLab.Tests.Scenarios.WireBuilder;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// The fixture runner's G4 oracle on hand-made evidence, both ways: a watchdog cancel before the deadline the tap's
/// activity lines give, one after deadline + tolerance, one that never came, and a timer left armed on the bridge's
/// clock after every turn ended (while the bridge's own counter would already read 0 after its disposal).
/// </summary>
[TestFixture]
[Category("G4")]
[Category("Fixtures")]
public sealed class WatchdogOracleTests
{
    private static readonly DateTimeOffset s_at = DateTimeOffset.UnixEpoch;

    private static BridgeOptions Options(TimeSpan? cap = null) => new()
    {
        Watchdog = new WatchdogOptions { OverrideToolTimeout = TimeSpan.FromSeconds(1), ActivityWindow = TimeSpan.FromSeconds(1), MaxToolDuration = cap },
    };

    /// <summary>A prompt at 0.5 s and an agent-side tool t1 ('Deploy') reported at 1 s: its deadline is 2 s without activity.</summary>
    private static WireBuilder Tool() => new WireBuilder().Bridge(0.5, Prompt(2)).Agent(1.0, Update("t1", "tool_call"));

    private static RecordedEvent Hang(double at) => Event(at, new ToolHangCanceled(s_at, "sess-1", "t1", "Deploy", at - 1, "no activity"));

    private static string? G4(WireBuilder wire, IReadOnlyList<RecordedEvent>? events = null, BridgeOptions? options = null, TimerSample? timers = null) =>
        GuaranteeChecks.Check("G4", WireBuilder.Log([wire.Build()], options ?? Options(), events) with { Timers = timers });

    [Test]
    public void G4_CancelledAtItsDeadline_Holds()
    {
        Assert.That(G4(Tool().Bridge(2.21, Cancel()), [Hang(2.2)]), Is.Null);
    }

    [Test]
    public void G4_CancelledBeforeItsDeadline_IsCaught()
    {
        Assert.That(G4(Tool().Bridge(1.51, Cancel()), [Hang(1.5)]), Does.StartWith("G4: t1 ('Deploy') of session s1 was cancelled at 1.500s, before its deadline 2.000s (started at 1.000s (wire line 1), no activity"));
    }

    [Test]
    public void G4_CancelledWhileActivityKeptComing_IsCaught()
    {
        // The bridge's view could say "silent for 1 s"; the tap shows a heartbeat at 1.8 s, so the deadline was 2.8 s.
        Assert.That(G4(Tool().Agent(1.8, Update("t1")).Bridge(2.21, Cancel()), [Hang(2.2)]), Does.StartWith("G4: t1 ('Deploy') of session s1 was cancelled at 2.200s, before its deadline 2.800s").And.Contain("last activity at 1.800s"));
    }

    [Test]
    public void G4_TheStartCountsAsActivity_AWindowLongerThanTheTimeoutSetsTheDeadline()
    {
        var options = new BridgeOptions { Watchdog = new WatchdogOptions { OverrideToolTimeout = TimeSpan.FromMilliseconds(500), ActivityWindow = TimeSpan.FromSeconds(1) } };

        Assert.That(G4(Tool().Bridge(1.61, Cancel()), [Hang(1.6)], options), Does.Contain("was cancelled at 1.600s, before its deadline 2.000s"));
        Assert.That(G4(Tool().Bridge(2.01, Cancel()), [Hang(2.0)], options), Is.Null);
    }

    [Test]
    public void G4_AHostToolCancelledBeforeItsTimeout_IsCaught()
    {
        var wire = new WireBuilder().Bridge(0.5, Prompt(2)).Agent(1.0, WireBuilder.Tool(0, "h1")).Bridge(1.9, Error(0)).Bridge(1.91, Cancel()).Waiting(2);
        var hang = Event(1.9, new ToolHangCanceled(s_at, "sess-1", "h1", "desktop.press", 0.9, "no activity"));

        Assert.That(G4(wire, [hang]), Is.EqualTo("G4: host tool h1 ('desktop.press', request 0 at 1.000s) was cancelled at 1.900s, before 2.000s (ToolTimeout 1s, ActivityWindow 1s)"));
    }

    [Test]
    public void G4_CancelledLate_IsCaught()
    {
        Assert.That(G4(Tool().Bridge(3.51, Cancel()), [Hang(3.5)]), Does.StartWith("G4: t1 ('Deploy') of session s1 was cancelled at 3.500s, 1500ms after its deadline 2.000s").And.Contain("over the tolerance of 1s"));
    }

    [Test]
    public void G4_TheCancelLineWentOutLate_IsCaught()
    {
        Assert.That(G4(Tool().Bridge(3.6, Cancel()), [Hang(2.2)]), Does.StartWith("G4: the session/cancel for t1 ('Deploy') of session s1 went out at 3.600s (bridge line 2), outside [2.000s, 3.000s]"));
    }

    [Test]
    public void G4_NeverCancelled_IsCaught()
    {
        Assert.That(G4(Tool().Waiting(1.1)), Does.StartWith("G4: t1 ('Deploy') of session s1 was still running at 100.000s").And.Contain("the watchdog never cancelled it"));
    }

    [Test]
    public void G4_CompletedBeforeItsDeadline_OwesNoCancel()
    {
        Assert.That(G4(Tool().Agent(1.5, Update("t1", status: "completed")).Waiting(1.6)), Is.Null);
    }

    [Test]
    public void G4_HardCap_CancelsAtTheCapThoughActivityKeepsComing()
    {
        var beating = Tool();
        for (var at = 1.2; at < 3.5; at += 0.2)
        {
            beating.Agent(at, Update("t1"));
        }

        Assert.That(G4(beating.Bridge(3.11, Cancel()), [Hang(3.1)], Options(cap: TimeSpan.FromSeconds(2))), Is.Null);
        Assert.That(G4(beating.Bridge(4.21, Cancel()), [Hang(4.2)], Options(cap: TimeSpan.FromSeconds(2))), Does.Contain("after its deadline 3.000s"));
    }

    [Test]
    public void G4_AWatchdogTimerStillArmedAfterTheTurnsEnded_IsCaught()
    {
        var done = Tool().Agent(1.5, Update("t1", status: "completed")).Waiting(1.6);
        var leaked = new TimerSample(S(5), ["ContainmentLab.Bridge.Connection", "ContainmentLab.Bridge.Watchdog+Watch"]);

        Assert.That(G4(done, timers: leaked), Does.StartWith("G4: 1 watchdog timer(s) still armed at 5.000s, after every turn had ended, with 0 tool call(s) unanswered"));
        Assert.That(G4(done, timers: new TimerSample(S(5), ["ContainmentLab.Bridge.Connection"])), Is.Null);
    }

    [Test]
    public void G4_AWatchdogTimerOfAToolStillRunning_IsNoLeak()
    {
        var running = new WireBuilder().Bridge(0.5, Prompt(2)).Agent(1.0, WireBuilder.Tool(0, "t1")).Waiting(1.1);

        Assert.That(G4(running, timers: new TimerSample(S(5), ["ContainmentLab.Bridge.Watchdog+Watch"])), Is.Null);
    }
}
