using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

[TestFixture]
[CancelAfter(30_000)]
public sealed class BridgeTurnTests
{
    private const string Storm = """
        prompts:
          - steps:
              - storm: { count: 300, concurrency: 4, tools: [desktop.press, desktop.set_value, desktop.key], seed: 3 }
              - end: end_turn
        """;

    [Test]
    public async Task PromptAsync_ScriptedTurn_CompletesWithEveryToolAudited()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - say: hello
                  - tool: desktop.press
                    arguments: { target: OK }
                  - tool: fs/write_text_file
                    arguments: { path: out/a.txt, content: hi }
                  - end: end_turn
            """, o => InProcessBridge.With(o, policies: new PolicySet { Destructive = ToolPolicy.Allow }));
        var session = await lab.Bridge.NewSessionAsync();

        var outcome = await lab.Bridge.PromptAsync(session, "go");

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn));
        Assert.That(lab.Audit.Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Began, AuditKind.Completed, AuditKind.Dispatched, AuditKind.Began, AuditKind.Completed }));
        Assert.That(File.ReadAllText(Path.Combine(lab.Bridge.Sandbox.Root, "out", "a.txt")), Is.EqualTo("hi"));
        Assert.That(lab.Of<TurnEnded>().Single().Outcome, Is.EqualTo(outcome));
    }

    [Test]
    [Category("G3")]
    public async Task Interrupt_HonouringAgent_TurnEndsCancelledWithAck()
    {
        await using var lab = await InProcessBridge.StartAsync(Storm);
        var session = await lab.Bridge.NewSessionAsync();

        // Stop at the 50th dispatch, from its own event: a poll could see 50 only after all 300 had run (a loaded machine).
        var interrupted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = InterruptAt(lab, session, 50, interrupted);
        var turn = lab.Bridge.PromptAsync(session, "storm");

        Assert.That(await interrupted.Task.OrTimeout(), Is.True);
        var outcome = await turn.OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.Cancelled));
        Assert.That(outcome.Interrupted, Is.True);
        Assert.That(outcome.ProtocolDeviation, Is.False);
        Assert.That(lab.Of<CancelSent>().Single().SessionId, Is.EqualTo(session));
        Assert.That(lab.Of<AckReceived>().Single().Deviation, Is.False);
        Assert.That(AuditChecks.NoDispatchAfterInterrupt(lab.Audit), Is.Empty);
    }

    [Test]
    public async Task Interrupt_Twice_SecondReturnsFalse_AndUnknownSessionIsFalse()
    {
        await using var lab = await InProcessBridge.StartAsync(Storm);
        var session = await lab.Bridge.NewSessionAsync();

        Assert.That(lab.Bridge.Interrupt(session), Is.True);
        Assert.That(lab.Bridge.Interrupt(session), Is.False);
        Assert.That(lab.Bridge.Interrupt("no-such-session"), Is.False);
        Assert.That(lab.Audit.Count(r => r.Kind == AuditKind.Interrupted), Is.EqualTo(1));
    }

    [Test]
    public async Task PromptAsync_SecondPromptOnBusySession_RefusedAndFirstTurnUntouched()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - sleep: 10s
                  - end: end_turn
            """);
        var session = await lab.Bridge.NewSessionAsync();
        var first = lab.Bridge.PromptAsync(session, "first");

        var second = Assert.ThrowsAsync<SessionStateException>(() => lab.Bridge.PromptAsync(session, "second"));
        Assert.That(second!.Message, Does.Contain("is busy").And.Contain("turn 1 is still running"));

        await Until.TrueAsync(() => lab.Engine.SessionIds.Count == 1 && lab.Tap.SentLines >= 3, "prompt on the wire");
        lab.Time.Advance(TimeSpan.FromSeconds(10));
        var outcome = await first;

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<TurnStarted>(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task PromptAsync_InterruptedSession_IsNeverReused()
    {
        await using var lab = await InProcessBridge.StartAsync(Storm);
        var session = await lab.Bridge.NewSessionAsync();
        lab.Bridge.Interrupt(session);

        var ex = Assert.ThrowsAsync<SessionStateException>(() => lab.Bridge.PromptAsync(session, "again"));

        Assert.That(ex!.Message, Does.Contain("was interrupted and is never reused"));
    }

    [Test]
    public async Task PromptAsync_UnknownSession_ClearError()
    {
        await using var lab = await InProcessBridge.StartAsync(Storm);

        var ex = Assert.ThrowsAsync<SessionStateException>(() => lab.Bridge.PromptAsync("nope", "x"));

        Assert.That(ex!.Message, Does.Contain("unknown session 'nope'"));
    }

    [Test]
    [Category("G3")]
    public async Task Interrupt_AgentIgnoresCancel_EscalatedExactlyAtAckTimeout()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            on_cancel: ignore
            prompts:
              - steps:
                  - sleep: 1h
                  - end: end_turn
            """, o => InProcessBridge.With(o, ackTimeout: TimeSpan.FromSeconds(5)));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "work");
        await Until.TrueAsync(() => lab.Engine.SessionIds.Count == 1 && lab.Tap.SentLines >= 3, "prompt on the wire");

        lab.Bridge.Interrupt(session);
        lab.Time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.That(turn.IsCompleted, Is.False, "escalated before AckTimeout");
        lab.Time.Advance(TimeSpan.FromTicks(1));
        var outcome = await turn.OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Escalated));
        Assert.That(outcome.Reason, Does.Contain("did not acknowledge"));
        Assert.That(outcome.Duration, Is.EqualTo(TimeSpan.FromSeconds(5)));
        Assert.That(lab.Of<AckTimedOut>().Single().SessionId, Is.EqualTo(session));
        Assert.That(lab.Of<Escalated>().Single().SessionId, Is.EqualTo(session));
        await Until.TrueAsync(() => lab.Of<AgentExited>().Count == 1, "the agent is gone after escalation");
    }

    [Test]
    [Category("G3")]
    public async Task Interrupt_LateAckWithinAckTimeout_EndsCancelledWithThatLatency()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            on_cancel: { ack_after: 2s }
            prompts:
              - steps:
                  - sleep: 1h
            """, o => InProcessBridge.With(o, ackTimeout: TimeSpan.FromSeconds(5)));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "work");
        await Until.TrueAsync(() => lab.Engine.SessionIds.Count == 1 && lab.Tap.SentLines >= 3, "prompt on the wire");

        lab.Bridge.Interrupt(session);
        await Until.TrueAsync(() => lab.Tap.SentLines >= 4, "cancel on the wire");
        await Until.TrueAsync(() => { lab.Time.Advance(TimeSpan.Zero); return lab.AgentLog.ToString().Contains("cancel", StringComparison.OrdinalIgnoreCase); }, "the agent saw the cancel");
        lab.Time.Advance(TimeSpan.FromSeconds(2));
        var outcome = await turn.OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.Cancelled));
        Assert.That(outcome.AckLatency, Is.EqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(lab.Of<Escalated>(), Is.Empty);
    }

    [Test]
    [Category("G3")]
    public async Task Interrupt_AgentAnswersEndTurn_TurnEndsAsDeviation()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            on_cancel: { ack_after: 0s, stop_reason: end_turn }
            prompts:
              - steps:
                  - sleep: 1h
            """);
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "work");
        await Until.TrueAsync(() => lab.Engine.SessionIds.Count == 1 && lab.Tap.SentLines >= 3, "prompt on the wire");

        lab.Bridge.Interrupt(session);
        var outcome = await turn.OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn));
        Assert.That(outcome.ProtocolDeviation, Is.True);
    }

    [Test]
    [Category("G3")]
    public async Task Interrupt_PendingPermission_AnsweredCancelled()
    {
        var dialog = new TaskCompletionSource<bool>();
        await using var lab = await InProcessBridge.StartAsync("""
            on_cancel: hang
            prompts:
              - steps:
                  - permission: { title: "Delete the report", kind: delete }
                  - tool: desktop.press
                    arguments: { target: Delete }
            """, o => InProcessBridge.With(o, policies: new PolicySet { Destructive = ToolPolicy.Confirm }, confirm: (_, _) => new ValueTask<bool>(dialog.Task)));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "delete it");
        await Until.TrueAsync(() => lab.Bridge.Audit.LastSeq == 0 && lab.Tap.ReceivedLines >= 3, "permission request arrived");

        lab.Bridge.Interrupt(session);
        await Until.TrueAsync(() => lab.Of<PermissionAnswered>().Count == 1, "the permission request is answered");

        Assert.That(lab.Of<PermissionAnswered>().Single().Outcome, Is.EqualTo("cancelled"));
        Assert.That(lab.Bridge.Desktop.Count, Is.Zero);
        dialog.SetResult(true);
        lab.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.That((await turn).End, Is.EqualTo(TurnEnd.Escalated));
    }

    [Test]
    [Category("G5")]
    public async Task DisposeAsync_RunningTurn_CompletesAsAgentExited()
    {
        var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - sleep: 1h
            """);
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "work");
        await Until.TrueAsync(() => lab.Tap.SentLines >= 3, "prompt on the wire");

        await lab.DisposeAsync();
        var outcome = await turn.OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited));
    }

    /// <summary>Calls Interrupt from the subscriber of the session's <paramref name="nth"/> ToolDispatched, on the dispatch's own path.</summary>
    internal static IDisposable InterruptAt(InProcessBridge lab, string session, int nth, TaskCompletionSource<bool> interrupted)
    {
        var seen = 0;
        return lab.Bridge.Events.Subscribe(e =>
        {
            if (e is ToolDispatched d && d.SessionId == session && Interlocked.Increment(ref seen) == nth)
            {
                interrupted.TrySetResult(lab.Bridge.Interrupt(session));
            }
        });
    }
}
