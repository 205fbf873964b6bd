using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// End to end: the fake agent (in-process) runs <c>sleep 1000</c> with a grandchild in a host terminal and waits for
/// it; Stop, or the watchdog, must leave nothing of the group in the process table.
/// </summary>
[TestFixture]
[Category("Process")]
[CancelAfter(30_000)]
public sealed class BridgeTerminalTests
{
    private const string Script = """
        prompts:
          - steps:
              - tool: terminal/create
                arguments: { command: sh, args: ["-c", "sleep 1000 & sleep 1000"] }
              - tool: terminal/wait_for_exit
                arguments: { terminalId: term-1 }
              - tool: desktop.press
                arguments: { target: after-the-wait }
        """;

    private Terminals? _terminals;

    [TearDown]
    public async Task TearDown()
    {
        if (_terminals is not null)
        {
            await _terminals.DisposeAsync();
        }
    }

    private Task<InProcessBridge> StartAsync() =>
        InProcessBridge.StartAsync(Script, o => InProcessBridge.With(
            o,
            policies: new PolicySet { Destructive = ToolPolicy.Allow },
            watchdog: new WatchdogOptions(),
            tools: (sandbox, desktop, _) =>
            {
                _terminals = new Terminals(sandbox);
                return new HostToolRegistry().AddTerminals(_terminals).Add(new DesktopTool(desktop, DesktopTool.Press));
            }));

    private async Task<(string Session, Task<TurnOutcome> Turn, int Pgid, int[] Members)> RunUntilWaitingAsync(InProcessBridge lab)
    {
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "run it");
        await Until.TrueAsync(() => lab.Dispatched(session) == 2 && lab.Bridge.ActiveWatches == 1 && lab.Audit.Count(r => r.Kind == AuditKind.Began) == 2, "wait_for_exit is running");
        var pgid = _terminals!.ProcessGroupOf("term-1") ?? throw new AssertionException("no terminal term-1");
        await ProcessGroups.UntilHasAsync(pgid, 3);
        return (session, turn, pgid, ProcessGroups.GroupMembers(pgid));
    }

    [Test]
    public async Task Interrupt_WhileTheAgentWaitsOnATerminal_GroupGoneAndTurnCancelled()
    {
        await using var lab = await StartAsync();
        var (session, turn, pgid, members) = await RunUntilWaitingAsync(lab);

        Assert.That(lab.Bridge.Interrupt(session), Is.True);
        var outcome = await turn.OrTimeout();

        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(lab.Bridge.Desktop.Count, Is.Zero, "nothing of the session ran after Stop");
        await Until.TrueAsync(() => AuditChecks.ExactlyOneTerminalRecord(lab.Audit).Count == 0, "every call's terminal record");
    }

    [Test]
    [Category("G4")]
    public async Task Watchdog_SilentTerminalWait_CancelledAtTheWindowAndGroupGone()
    {
        await using var lab = await StartAsync();
        var (_, turn, pgid, members) = await RunUntilWaitingAsync(lab);

        // wait_for_exit's tool timeout (10 s) is below the 60 s activity window: the window decides.
        lab.Time.Advance(TimeSpan.FromSeconds(60) - TimeSpan.FromTicks(1));
        Assert.That(lab.Of<ToolHangCanceled>(), Is.Empty);
        Assert.That(ProcessGroups.IsAlive(pgid), Is.True);
        lab.Time.Advance(TimeSpan.FromTicks(1));
        var outcome = await turn.OrTimeout();

        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
        Assert.That(lab.Of<ToolHangCanceled>().Single().ToolName, Is.EqualTo("terminal/wait_for_exit"));
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(lab.Bridge.ActiveWatches, Is.Zero);
    }

    [Test]
    public async Task DisposeBridge_KillsTheTerminalsGroup()
    {
        var lab = await StartAsync();
        int pgid;
        int[] members;
        try
        {
            (_, _, pgid, members) = await RunUntilWaitingAsync(lab);
        }
        finally
        {
            await lab.DisposeAsync();
        }

        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
    }
}
