using ContainmentLab.Bridge;
using ContainmentLab.Events;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Bridge;

/// <summary>G4 in virtual time: the real 60 s window, no waiting.</summary>
[TestFixture]
[Category("G4")]
public sealed class WatchdogTests
{
    private FakeTimeProvider _time = null!;
    private List<ContainmentEvent> _events = null!;
    private List<(string Session, string Reason)> _interrupts = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider();
        _events = [];
        _interrupts = [];
    }

    private Watchdog Create(WatchdogOptions? options = null)
    {
        var hub = new EventHub();
        hub.Subscribe(_events.Add);
        return new Watchdog(options ?? new WatchdogOptions(), _time, hub, (s, r) => _interrupts.Add((s, r)));
    }

    private IReadOnlyList<ToolHangCanceled> Hangs => [.. _events.OfType<ToolHangCanceled>()];

    [Test]
    public void Activity_Every59Seconds_For30Minutes_NeverTrips()
    {
        var watchdog = Create();
        using var watch = watchdog.Start("s1", "t1", "desktop.press", null);

        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromMinutes(30); elapsed += TimeSpan.FromSeconds(59))
        {
            _time.Advance(TimeSpan.FromSeconds(59));
            watch.ReportActivity();
        }

        Assert.That(Hangs, Is.Empty);
        Assert.That(watch.ExpiredReason, Is.Null);
        _time.Advance(TimeSpan.FromSeconds(60) - TimeSpan.FromTicks(1));
        Assert.That(Hangs, Is.Empty, "tripped before the window closed");
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.That(Hangs, Has.Count.EqualTo(1), "silence for the whole window trips it");
    }

    [Test]
    public void EndAll_EndsEveryRunningWatchAndStartsNoMore()
    {
        var watchdog = Create();
        var agentSide = watchdog.Start("s1", "t1", "Deploy", null);
        var cancelled = 0;
        var host = watchdog.Start("s2", "t2", "desktop.press", () => cancelled++);
        Assert.That(watchdog.ActiveCount, Is.EqualTo(2));

        watchdog.EndAll();
        var late = watchdog.Start("s1", "t3", "Deploy", null);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Multiple(() =>
        {
            Assert.That(watchdog.ActiveCount, Is.Zero, "no timer outlives EndAll");
            Assert.That(Hangs, Is.Empty, "an ended watch never trips, nor does one started after EndAll");
            Assert.That(cancelled, Is.Zero);
        });
        agentSide.Dispose();
        host.Dispose();
        late.Dispose();
        Assert.That(watchdog.ActiveCount, Is.Zero, "disposing an ended watch again changes nothing");
    }

    [TestCase("desktop.press", 10, 60, TestName = "Silence_ToolTimeoutBelowWindow_TripsAtWindow")]
    [TestCase("some_agent_tool", 300, 300, TestName = "Silence_ToolTimeoutAboveWindow_TripsAtToolTimeout")]
    [TestCase("mcp__github__create_pr", 120, 120, TestName = "Silence_McpTool_TripsAt120Seconds")]
    public void Silence_TripsExactlyAtTheDeadline(string tool, int toolTimeout, int deadline)
    {
        var cancelled = 0;
        var watchdog = Create();
        using var watch = watchdog.Start("s1", "t1", tool, () => cancelled++);

        _time.Advance(TimeSpan.FromSeconds(deadline) - TimeSpan.FromTicks(1));
        Assert.That(Hangs, Is.Empty);
        Assert.That(cancelled, Is.Zero);

        _time.Advance(TimeSpan.FromTicks(1));

        var hang = Hangs.Single();
        Assert.That(cancelled, Is.EqualTo(1));
        Assert.That(hang.SessionId, Is.EqualTo("s1"));
        Assert.That(hang.ToolCallId, Is.EqualTo("t1"));
        Assert.That(hang.ToolName, Is.EqualTo(tool));
        Assert.That(hang.DurationSeconds, Is.EqualTo(deadline));
        Assert.That(hang.Reason, Does.Contain($"ToolTimeout {toolTimeout} s"));
        Assert.That(watch.ExpiredReason, Is.EqualTo(hang.Reason));
        Assert.That(_interrupts.Single().Session, Is.EqualTo("s1"));
        Assert.That(watchdog.ActiveCount, Is.Zero);
    }

    [Test]
    public void Expired_ExactlyOneEventEvenAfterMoreTime()
    {
        var watchdog = Create();
        using var watch = watchdog.Start("s1", "t1", "desktop.press", null);

        _time.Advance(TimeSpan.FromHours(2));

        Assert.That(Hangs, Has.Count.EqualTo(1));
    }

    [Test]
    public void TwoSessions_OnesActivityNeverKeepsTheOthersHungToolAlive()
    {
        var watchdog = Create();
        using var busy = watchdog.Start("a", "ta", "desktop.press", null);
        using var hung = watchdog.Start("b", "tb", "desktop.press", null);

        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            busy.ReportActivity();
        }

        Assert.That(Hangs.Select(h => h.SessionId), Is.EqualTo(new[] { "b" }));
        Assert.That(Hangs.Single().DurationSeconds, Is.EqualTo(60));
    }

    [Test]
    public void TwoSessions_OnesCompletionNeverClearsTheOthersTimer()
    {
        var watchdog = Create();
        var first = watchdog.Start("a", "ta", "desktop.press", null);
        using var second = watchdog.Start("b", "tb", "desktop.press", null);

        _time.Advance(TimeSpan.FromSeconds(20));
        first.Dispose();
        _time.Advance(TimeSpan.FromSeconds(40));

        Assert.That(Hangs.Select(h => (h.SessionId, h.ToolCallId)), Is.EqualTo(new[] { ("b", "tb") }));
    }

    [Test]
    public void BackToBackTools_AcrossTheTimeout_NeitherTripsEarly()
    {
        // Fazm hang 4: a count of running tools read 0 between two tools and fired a false timeout.
        var watchdog = Create();
        for (var i = 0; i < 5; i++)
        {
            using var watch = watchdog.Start("s1", $"t{i}", "desktop.press", null);
            _time.Advance(TimeSpan.FromSeconds(50));
        }

        Assert.That(Hangs, Is.Empty);
        Assert.That(watchdog.ActiveCount, Is.Zero);
    }

    [Test]
    public void ThousandCalls_Ended_LeaveNoTimerBehind()
    {
        var watchdog = Create();
        for (var i = 0; i < 1_000; i++)
        {
            var watch = watchdog.Start($"s{i % 3}", $"t{i}", "desktop.press", null);
            watch.ReportActivity();
            _time.Advance(TimeSpan.FromMilliseconds(7));
            watch.Dispose();
        }

        Assert.That(watchdog.ActiveCount, Is.Zero);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.That(Hangs, Is.Empty, "a timer of an ended call fired");
    }

    [Test]
    public void MaxToolDuration_CancelsEvenAChatteringTool()
    {
        var watchdog = Create(new WatchdogOptions { MaxToolDuration = TimeSpan.FromMinutes(5) });
        using var watch = watchdog.Start("s1", "t1", "desktop.press", null);

        for (var i = 0; i < 20 && Hangs.Count == 0; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            watch.ReportActivity();
        }

        Assert.That(Hangs.Single().DurationSeconds, Is.EqualTo(300));
        Assert.That(Hangs.Single().Reason, Does.Contain("hard cap"));
    }

    [Test]
    public void Disabled_WatchesNothing()
    {
        var watchdog = Create(WatchdogOptions.FromEnvironment("0"));
        using var watch = watchdog.Start("s1", "t1", "desktop.press", null);

        _time.Advance(TimeSpan.FromDays(1));

        Assert.That(Hangs, Is.Empty);
        Assert.That(watchdog.ActiveCount, Is.Zero);
    }

    [Test]
    public void FromEnvironment_OverridesEveryToolTimeout()
    {
        var options = WatchdogOptions.FromEnvironment("7.5");

        Assert.That(options.TimeoutFor("desktop.press"), Is.EqualTo(TimeSpan.FromSeconds(7.5)));
        Assert.That(options.TimeoutFor("mcp__x"), Is.EqualTo(TimeSpan.FromSeconds(7.5)));
        Assert.That(options.TimeoutFor("Deploy"), Is.EqualTo(TimeSpan.FromSeconds(7.5)));
    }

    [TestCase("abc")]
    [TestCase("-1")]
    public void FromEnvironment_BadValue_SaysWhatIsWrong(string value)
    {
        Assert.That(() => WatchdogOptions.FromEnvironment(value), Throws.TypeOf<FormatException>().With.Message.Contains(WatchdogOptions.TimeoutEnvironmentVariable));
    }

    [TestCase("fs/read_text_file", 10)]
    [TestCase("terminal/wait_for_exit", 10)]
    [TestCase("http.request", 10)]
    [TestCase("mcp__files__read", 120)]
    [TestCase("Run the deploy", 300)]
    public void TimeoutFor_Defaults(string tool, int seconds)
    {
        Assert.That(new WatchdogOptions().TimeoutFor(tool), Is.EqualTo(TimeSpan.FromSeconds(seconds)));
    }

    [TestCase("a*b*c", "abc", true)]
    [TestCase("a*b*c", "a-x-b-y-c", true)]
    [TestCase("a*b*c", "acb", false)]
    [TestCase("a*a", "a", false)]
    [TestCase("a*a", "aa", true)]
    [TestCase("*", "anything", true)]
    [TestCase("**x", "yx", true)]
    [TestCase("x*", "y", false)]
    [TestCase("exact", "exact", true)]
    [TestCase("exact", "exactly", false)]
    public void TimeoutFor_WildcardPatterns(string pattern, string tool, bool matches)
    {
        var options = new WatchdogOptions { ToolTimeouts = [KeyValuePair.Create(pattern, TimeSpan.FromSeconds(7))] };
        Assert.That(options.TimeoutFor(tool), Is.EqualTo(matches ? TimeSpan.FromSeconds(7) : options.DefaultToolTimeout));
    }
}
