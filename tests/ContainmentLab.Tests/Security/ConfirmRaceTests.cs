using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// The confirm policy is checked again after the user answers: a Stop pressed while the dialog is open wins over the
/// "yes" that comes back later, through the whole bridge (G1).
/// </summary>
[TestFixture]
[Category("G9")]
[Category("G1")]
[CancelAfter(30_000)]
public sealed class ConfirmRaceTests
{
    [TestCase("tool")]
    [TestCase("permission")]
    public async Task InterruptWhileConfirmDialogOpen_LateYesGrantsNothing(string kind)
    {
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dialog = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var step = kind == "tool"
            ? "- tool: desktop.press\n        arguments: { target: OK }"
            : "- permission: { title: \"Delete the report\", kind: delete }";
        await using var lab = await InProcessBridge.StartAsync(
            $$"""
            prompts:
              - steps:
                  {{step}}
                  - tool: desktop.press
                    arguments: { target: After }
                  - end: end_turn
            """,
            o => InProcessBridge.With(
                o,
                policies: new PolicySet { SideEffect = ToolPolicy.Confirm, Destructive = ToolPolicy.Confirm },
                confirm: (_, _) =>
                {
                    // A dialog that ignores the token: the user's click comes back whatever happened meanwhile.
                    opened.TrySetResult();
                    return new ValueTask<bool>(dialog.Task);
                }));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "go");
        await opened.Task.OrTimeout();

        Assert.That(lab.Bridge.Interrupt(session), Is.True);
        dialog.SetResult(true);
        var outcome = await turn.OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(lab.Bridge.Desktop.Count, Is.Zero, "nothing ran");
        Assert.That(AuditChecks.NoDispatchAfterInterrupt(lab.Audit), Is.Empty);
        if (kind == "tool")
        {
            Assert.That(lab.Of<ToolCompleted>().Single().Result, Is.EqualTo(AuditKind.Canceled));
        }
        else
        {
            Assert.That(lab.Of<PermissionAnswered>().Single().Outcome, Is.EqualTo("cancelled"));
        }
    }
}
