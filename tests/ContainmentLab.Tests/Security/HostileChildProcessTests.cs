using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// G9 over real pipes: a hostile fake agent as a child process (noise, an oversize line, an unknown method, a call naming
/// an idle session, a call after its own cancelled ack), a well-behaved second session running meanwhile, and the
/// process gone afterwards.
/// </summary>
[TestFixture]
[Category("G9")]
[Category("Process")]
[NonParallelizable]
public sealed class HostileChildProcessTests
{
    [Test]
    [CancelAfter(60_000)]
    public async Task HostileSession_OverRealStdio_ContainedAndOtherSessionCompletes()
    {
        using var agent = new ChildAgent("""
            on_cancel: ack_and_continue
            session_prompts:
              sess-1:
                - steps:
                    - raw: { hex: "00 ff fe 1b 5b 32 4a 07", repeat: 500 }
                    - raw: { fill: 8388608 }
                    - raw: '{"jsonrpc":"2.0","id":930,"method":"evil/run","params":{}}'
                    - tool: desktop.press
                      arguments: { target: Theirs }
                      session: sess-3
                    - tool: desktop.press
                      arguments: { target: Mine }
                    - sleep: 3s           # the Stop lands in here (real time: room for a loaded machine)
                    - tool: desktop.press
                      arguments: { target: After-ack }
            prompts:
              - steps:
                  - sleep: 200ms
                  - tool: desktop.press
                    arguments: { target: Other }
                  - end: end_turn
            """);
        var tap = new RecordingTap();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            SandboxRoot = Directory.CreateTempSubdirectory("cl-hostile-child-").FullName,
            WireTap = tap,
            ShutdownGrace = TimeSpan.FromSeconds(2),
        });
        bridge.Events.Subscribe(events.Enqueue);
        int? pid = null;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId!.Value;
            var s1 = await bridge.NewSessionAsync();
            var s2 = await bridge.NewSessionAsync();
            var idle = await bridge.NewSessionAsync();
            var hostile = bridge.PromptAsync(s1, "go");
            var other = bridge.PromptAsync(s2, "go");
            await Until.TrueAsync(() => bridge.Desktop.Snapshot().Any(a => a.Target == "Mine"), "the hostile session's own call");

            Assert.That(bridge.Interrupt(s1), Is.True);
            var outcome = await hostile.OrTimeout();
            await Until.TrueAsync(() => events.OfType<ToolSkipped>().Any(), "the call after its own cancelled ack, refused");
            var second = await other.OrTimeout();

            Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
            Assert.That(second.End, Is.EqualTo(TurnEnd.Completed));
            Assert.That(bridge.Desktop.Snapshot().Select(a => a.Target), Is.EquivalentTo(new[] { "Mine", "Other" }));
            var violations = events.OfType<ProtocolViolation>().ToList();
            Assert.That(violations.Count(v => v.Reason.StartsWith("invalid UTF-8", StringComparison.Ordinal)), Is.EqualTo(500));
            Assert.That(violations.Count(v => v.Reason.Contains("exceeds", StringComparison.Ordinal)), Is.EqualTo(1));
            Assert.That(violations.Count(v => v.Reason.Contains("which has no running turn", StringComparison.Ordinal)), Is.EqualTo(2));
            Assert.That(tap.AnsweredWithError("930"), Is.True);
            Assert.That(AuditChecks.NoDispatchAfterInterrupt(bridge.Audit.Snapshot()), Is.Empty);
            Assert.That(AuditChecks.ExactlyOneTerminalRecord(bridge.Audit.Snapshot()), Is.Empty);
            Assert.That(bridge.Audit.Snapshot().Where(r => r.SessionId == idle).Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Denied }), "nothing dispatched in the idle session");
            Assert.That(events.OfType<AgentExited>(), Is.Empty, "the hostile agent was contained, not killed");
        }
        finally
        {
            await bridge.DisposeAsync();
            if (pid is { } p)
            {
                await ChildAgent.AssertGoneAsync(p);
            }
        }
    }
}
