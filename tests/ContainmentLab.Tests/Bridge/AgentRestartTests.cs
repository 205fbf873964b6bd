using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// A restarted agent hands out the session ids and request ids the dead one used (both number from the start). Session
/// identity is unique for the bridge's lifetime: the new session gets its own handle, its calls are new calls (G8), and
/// the audit log and the events tell the two sessions apart (G1). Real child processes: the fake agent crashes in its
/// second turn.
/// </summary>
[TestFixture]
[Category("G5")]
[Category("G8")]
[Category("Process")]
[NonParallelizable]
public sealed class AgentRestartTests
{
    private const string CrashInSecondTurn = """
        prompts:
          - steps:
              - tool: fs/write_text_file
                arguments: { path: restart.txt, content: "written" }
              - tool: desktop.press
                arguments: { target: OK }
              - end: end_turn
          - steps:
              - crash: { exit_code: 3 }
        """;

    [Test]
    [CancelAfter(60_000)]
    public async Task CrashInSecondTurn_Restart_NewAgentsCallsRun_AndTheSessionsStayApart()
    {
        using var script = new ChildAgent(CrashInSecondTurn);
        var sandbox = Directory.CreateTempSubdirectory("cl-restart-");
        var pids = new List<int>();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            TransportFactory = () =>
            {
                var process = AgentProcess.Start(script.Command);
                pids.Add(process.ProcessId!.Value);
                return process;
            },
            SandboxRoot = sandbox.FullName,
            Policies = new PolicySet { SideEffect = ToolPolicy.Allow, Destructive = ToolPolicy.Allow },
            Restart = new RestartOptions { Budget = 1, InitialBackoff = TimeSpan.FromMilliseconds(10) },
        });
        bridge.Events.Subscribe(events.Enqueue);
        try
        {
            await bridge.StartAsync();
            var first = await bridge.NewSessionAsync();
            Assert.That((await bridge.PromptAsync(first, "work").OrTimeout()).End, Is.EqualTo(TurnEnd.Completed));
            Assert.That((await bridge.PromptAsync(first, "crash").OrTimeout()).End, Is.EqualTo(TurnEnd.AgentExited));

            var second = await bridge.NewSessionAsync().OrTimeout();
            var outcome = await bridge.PromptAsync(second, "work").OrTimeout();

            Assert.That(second, Is.Not.EqualTo(first), "the fresh agent's sess-1 is not the dead agent's sess-1");
            Assert.That(second, Is.EqualTo(first + "#2"));
            Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), outcome.ToString);
            Assert.That(outcome.SessionId, Is.EqualTo(second));
            Assert.That(events.OfType<ProtocolViolation>().Select(v => v.Reason), Is.Empty, "no call of the new agent was taken for a repeat");

            var records = bridge.Audit.Snapshot();
            Assert.That(
                records.Where(r => r.SessionId == second).Select(r => (r.Kind, r.ToolCallId)),
                Is.EqualTo(new[] { (AuditKind.Dispatched, "rpc-0"), (AuditKind.Began, "rpc-0"), (AuditKind.Completed, "rpc-0"), (AuditKind.Dispatched, "sess-1/t2"), (AuditKind.Began, "sess-1/t2"), (AuditKind.Completed, "sess-1/t2") }),
                "the new agent's write and tool call ran, recorded under the new session");
            Assert.That(records.Count(r => r.SessionId == first && r.Kind == AuditKind.Completed), Is.EqualTo(2), "the old session keeps only its own calls");
            Assert.That(AuditChecks.NoDispatchAfterInterrupt(records), Is.Empty, "G1 tells the sessions apart");
            Assert.That(AuditChecks.ExactlyOneTerminalRecord(records), Is.Empty);
            Assert.That(events.OfType<ToolDispatched>().Count(d => d.SessionId == second), Is.EqualTo(2));
            Assert.That(events.OfType<ToolDispatched>().Count(d => d.SessionId == first), Is.EqualTo(2));
            Assert.That(events.OfType<SessionCreated>().Select(s => s.SessionId), Is.EqualTo(new[] { first, second }));

            var stale = Assert.ThrowsAsync<SessionStateException>(() => bridge.PromptAsync(first, "again"));
            Assert.That(stale!.Message, Does.Contain("ended with its agent"));
        }
        finally
        {
            await bridge.DisposeAsync();
            foreach (var pid in pids)
            {
                await ChildAgent.AssertGoneAsync(pid);
            }

            sandbox.Delete(recursive: true);
        }
    }
}
