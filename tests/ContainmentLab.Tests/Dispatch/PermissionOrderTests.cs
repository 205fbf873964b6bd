using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Dispatch;

/// <summary>
/// G1 for permissions: once <c>Interrupt(s)</c> returns, no permission answer of s but <c>cancelled</c> may be queued for
/// the wire. Checked from the wire (the lines in the order the writer wrote them), not from the bridge's events.
/// </summary>
[TestFixture]
[Category("G1")]
[CancelAfter(30_000)]
public sealed class PermissionOrderTests
{
    [TestCase(ToolPolicy.Allow, "allow")]
    [TestCase(ToolPolicy.Deny, "reject")]
    public async Task Interrupt_FromPermissionAnsweredSubscriber_TheAnswerIsOnTheWireBeforeTheCancel(ToolPolicy policy, string option)
    {
        var tap = new LineTap();
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - permission: { title: "Delete the report", kind: delete }
                  - tool: desktop.press
                    arguments: { target: After }
                  - end: end_turn
            """, o => LabOptions.With(o, tap, new PolicySet { Destructive = policy }));
        var session = await lab.Bridge.NewSessionAsync();
        var interrupted = 0;
        using var stop = lab.Bridge.Events.Subscribe(e =>
        {
            // The user presses Stop the moment the bridge says it answered: an answer that is queued after this Stop
            // returned would reach the agent after session/cancel, as if granted after Stop.
            if (e is PermissionAnswered && Interlocked.Exchange(ref interrupted, 1) == 0)
            {
                lab.Bridge.Interrupt(session);
            }
        });

        var outcome = await lab.Bridge.PromptAsync(session, "go").OrTimeout();

        Assert.That(interrupted, Is.EqualTo(1), "Stop was pressed");
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        var sent = tap.Sent();
        var cancel = sent.FindIndex(l => l.Contains($"\"method\":\"{AcpMethods.SessionCancel}\"", StringComparison.Ordinal));
        var answer = sent.FindIndex(l => l.Contains("\"outcome\":{\"outcome\":", StringComparison.Ordinal));
        Assert.That(cancel, Is.GreaterThanOrEqualTo(0), "session/cancel was written");
        Assert.That(answer, Is.GreaterThanOrEqualTo(0), "the permission was answered");
        Assert.That(sent[answer], Does.Contain($"\"optionId\":\"{option}\""), "the answer decided before Stop stands");
        Assert.That(answer, Is.LessThan(cancel), "wire order:\n" + string.Join('\n', sent));
        Assert.That(sent.Skip(cancel).Where(l => l.Contains("\"outcome\":\"selected\"", StringComparison.Ordinal)), Is.Empty, "nothing but 'cancelled' after the cancel");
        Assert.That(lab.Bridge.Desktop.Count, Is.Zero, "the tool after the permission never ran");
    }

    [Test]
    public async Task Interrupt_RacingTheDecision_NoSelectedAnswerAfterTheCancelOnTheWire([Range(1, 20)] int trial)
    {
        // Stop from another thread while the policy decides: whichever wins, the wire never shows a grant after the cancel.
        var tap = new LineTap();
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - permission: { title: "Delete the report", kind: delete }
                  - permission: { title: "Delete the backup", kind: delete }
                  - end: end_turn
            """, o => LabOptions.With(o, tap, new PolicySet { Destructive = ToolPolicy.Allow }));
        var session = await lab.Bridge.NewSessionAsync();
        Task stopping = Task.CompletedTask;
        var pressed = 0;
        using var stop = lab.Bridge.Events.Subscribe(e =>
        {
            if (e is PermissionRequested && Interlocked.Exchange(ref pressed, 1) == 0)
            {
                stopping = Task.Run(() =>
                {
                    Thread.SpinWait(trial * 50);
                    lab.Bridge.Interrupt(session);
                });
            }
        });

        var outcome = await lab.Bridge.PromptAsync(session, "go").OrTimeout();
        await stopping.OrTimeout();

        var sent = tap.Sent();
        var cancel = sent.FindIndex(l => l.Contains($"\"method\":\"{AcpMethods.SessionCancel}\"", StringComparison.Ordinal));
        Assert.That(outcome.End, Is.AnyOf(TurnEnd.Cancelled, TurnEnd.Completed), "Stop may come after the turn's end");
        if (cancel >= 0)
        {
            Assert.That(sent.Skip(cancel).Where(l => l.Contains("\"outcome\":\"selected\"", StringComparison.Ordinal)), Is.Empty, "wire order:\n" + string.Join('\n', sent));
        }

        Assert.That(AuditChecks.NoDispatchAfterInterrupt(lab.Audit), Is.Empty);
    }
}
