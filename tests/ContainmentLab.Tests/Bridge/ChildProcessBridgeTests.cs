using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>The same guarantees with the fake agent as a real child process over real pipes, in real time.</summary>
[TestFixture]
[Category("Process")]
[NonParallelizable]
public sealed class ChildProcessBridgeTests
{
    private static readonly string s_sandbox = Directory.CreateTempSubdirectory("cl-child-tests-").FullName;

    private static AcpBridge Create(ChildAgent agent, RecordingTap tap, ConcurrentQueue<ContainmentEvent> events, TimeSpan? ackTimeout = null)
    {
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            SandboxRoot = s_sandbox,
            WireTap = tap,
            AckTimeout = ackTimeout ?? TimeSpan.FromSeconds(5),
            ShutdownGrace = TimeSpan.FromSeconds(2),
        });
        bridge.Events.Subscribe(events.Enqueue);
        return bridge;
    }

    [Test]
    [Category("G1")]
    [CancelAfter(180_000)]
    public async Task Storm_OverRealStdio_NoDispatchAfterInterrupt([Range(0, 19)] int trial)
    {
        var seed = 7_000 + trial;
        var random = new Random(seed);
        var count = random.Next(200, 2001);
        var concurrency = random.Next(1, 17);
        var global = trial % 2 == 0;
        var interruptAfter = random.Next(0, count / 2);
        var context = $"seed {seed}: {count} calls, concurrency {concurrency}, {(global ? "global" : "per-session")} interrupt after {interruptAfter}";
        using var agent = new ChildAgent($$"""
            prompts:
              - steps:
                  - storm: { count: {{count}}, concurrency: {{concurrency}}, tools: [desktop.press, desktop.set_value, desktop.key], seed: {{seed}} }
                  - end: end_turn
            """);
        var tap = new RecordingTap();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, tap, events);
        int pid;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId!.Value;
            var target = await bridge.NewSessionAsync();
            var other = await bridge.NewSessionAsync();
            // Pressed at the target's Nth dispatch, from that dispatch's own event: a poll racing the storm could see N only
            // after the whole storm had run (a loaded machine), and the trial would test nothing.
            var seen = 0;
            var pressed = 0;
            void Press()
            {
                if (Interlocked.Exchange(ref pressed, 1) == 0)
                {
                    _ = global ? bridge.InterruptAll() : (bridge.Interrupt(target) ? 1 : 0);
                }
            }

            using var stop = bridge.Events.Subscribe(e =>
            {
                if (e is ToolDispatched d && d.SessionId == target && Interlocked.Increment(ref seen) == interruptAfter)
                {
                    Press();
                }
            });
            var turns = new[] { bridge.PromptAsync(target, "storm"), bridge.PromptAsync(other, "storm") };
            if (interruptAfter == 0)
            {
                Press();
            }

            var outcomes = await Task.WhenAll(turns).OrTimeout(60);

            var refused = bridge.Audit.Snapshot().Where(r => r.Kind is AuditKind.Skipped or AuditKind.Canceled).ToList();
            await Until.TrueAsync(() => refused.All(r => tap.AnsweredWithError(r.RequestId!)), $"{context}: every refused call answered with an error");
            var records = bridge.Audit.Snapshot();
            Assert.That(AuditChecks.NoDispatchAfterInterrupt(records), Is.Empty, context);
            Assert.That(AuditChecks.ExactlyOneTerminalRecord(records), Is.Empty, context);
            Assert.That(outcomes.All(o => o.End is TurnEnd.Cancelled or TurnEnd.Completed), Is.True, context);
            Assert.That(outcomes[0].End, Is.EqualTo(TurnEnd.Cancelled), $"{context}: the interrupt landed mid-storm");
            if (!global)
            {
                Assert.That(outcomes[1].End, Is.EqualTo(TurnEnd.Completed), $"{context}: the other session (G2)");
            }
        }
        catch (Exception ex) when (ex is not AssertionException)
        {
            throw new AssertionException($"trial failed, {context}: {ex}", ex);
        }
        finally
        {
            await bridge.DisposeAsync();
        }

        await ChildAgent.AssertGoneAsync(pid);
    }

    [Test]
    [Category("G2")]
    [CancelAfter(60_000)]
    public async Task ThreeSessions_OneInterruptedMidStorm_OthersFinishEveryCall()
    {
        const int Count = 400;
        using var agent = new ChildAgent($$"""
            prompts:
              - steps:
                  - storm: { count: {{Count}}, concurrency: 4, tools: [desktop.press, desktop.set_value], seed: 11 }
                  - end: end_turn
            """);
        var tap = new RecordingTap();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, tap, events);
        int pid;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId!.Value;
            var ids = new[] { await bridge.NewSessionAsync(), await bridge.NewSessionAsync(), await bridge.NewSessionAsync() };
            // Stop at the first session's 50th dispatch, from its own event: a poll could see 50 only after all 400 had run.
            var seen = 0;
            var interrupted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var stop = bridge.Events.Subscribe(e =>
            {
                if (e is ToolDispatched d && d.SessionId == ids[0] && Interlocked.Increment(ref seen) == 50)
                {
                    interrupted.TrySetResult(bridge.Interrupt(ids[0]));
                }
            });
            var turns = ids.Select(id => bridge.PromptAsync(id, "storm")).ToArray();
            Assert.That(await interrupted.Task.OrTimeout(60), Is.True);
            var outcomes = await Task.WhenAll(turns).OrTimeout(60);

            var records = bridge.Audit.Snapshot();
            Assert.That(outcomes[0].End, Is.EqualTo(TurnEnd.Cancelled));
            Assert.That(records.Count(r => r.SessionId == ids[0] && r.Kind == AuditKind.Dispatched), Is.LessThan(Count));
            foreach (var (id, outcome) in ids.Zip(outcomes).Skip(1))
            {
                Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), id);
                Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn), id);
                Assert.That(records.Count(r => r.SessionId == id && r.Kind == AuditKind.Completed), Is.EqualTo(Count), id);
                Assert.That(records.Count(r => r.SessionId == id && r.Kind == AuditKind.Skipped), Is.Zero, id);
            }
        }
        finally
        {
            await bridge.DisposeAsync();
        }

        await ChildAgent.AssertGoneAsync(pid);
    }

    /// <summary>Runs a turn that sleeps for ten minutes, interrupts it, and returns how it ended; the agent is gone afterwards.</summary>
    private static async Task<(TurnOutcome Outcome, ConcurrentQueue<ContainmentEvent> Events)> InterruptSleepingTurnAsync(string onCancel, TimeSpan ackTimeout)
    {
        using var agent = new ChildAgent($$"""
            on_cancel: {{onCancel}}
            prompts:
              - steps:
                  - sleep: 10m
            """);
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, new RecordingTap(), events, ackTimeout);
        int? pid = null;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId!.Value;
            var session = await bridge.NewSessionAsync();
            var turn = bridge.PromptAsync(session, "work");
            bridge.Interrupt(session);
            return (await turn.OrTimeout(), events);
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

    [Test]
    [Category("G3")]
    [CancelAfter(60_000)]
    public async Task AgentIgnoringCancel_IsEscalatedAndKilled()
    {
        var (outcome, events) = await InterruptSleepingTurnAsync("ignore", TimeSpan.FromSeconds(1));

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Escalated));
        Assert.That(events.OfType<AckTimedOut>().Single().AckTimeout, Is.EqualTo(TimeSpan.FromSeconds(1)));
        var exited = events.OfType<AgentExited>().Single();
        Assert.That(exited.Signal, Is.EqualTo(9), $"killed by SIGKILL; got {exited}");
    }

    [Test]
    [Category("G3")]
    [CancelAfter(60_000)]
    public async Task AgentAckingLate_WithinAckTimeout_EndsCancelled()
    {
        var (outcome, events) = await InterruptSleepingTurnAsync("{ ack_after: 300ms }", TimeSpan.FromSeconds(10));

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.Cancelled));
        Assert.That(events.OfType<Escalated>(), Is.Empty);
    }
}
