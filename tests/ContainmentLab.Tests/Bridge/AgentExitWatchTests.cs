using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// G5 seen from the process, not from end of file: an agent whose child inherited its stdout (so end of file never
/// comes) and then exits is still seen dead at once; what it wrote before dying is still read (G9); the child is killed.
/// Real processes: a sh agent (<see cref="ShellAgent"/>) whose background child holds its stdio.
/// </summary>
[TestFixture]
[Category("G5")]
[Category("Process")]
[NonParallelizable]
public sealed class AgentExitWatchTests
{
    private DirectoryInfo _runtime = null!;

    [SetUp]
    public void CreateRuntime() => _runtime = Directory.CreateTempSubdirectory("cl-exit-watch-");

    [TearDown]
    public void DeleteRuntime() => _runtime.Delete(recursive: true);

    private AcpBridge Create(ShellAgent agent, ConcurrentQueue<ContainmentEvent> events)
    {
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            SandboxRoot = _runtime.FullName,

            // The cookie is how the bridge finds the child the agent left behind (reparented, so the tree kill misses it).
            Sweep = new OrphanSweepOptions { RuntimeDirectory = Path.Combine(_runtime.FullName, "leases"), SweepAtStart = false },
            Restart = new RestartOptions { Budget = 0 },
        });
        bridge.Events.Subscribe(events.Enqueue);
        return bridge;
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task AgentExitsWhileItsChildHoldsStdout_TurnEndsAgentExited_AndTheChildIsKilled()
    {
        using var agent = new ShellAgent("die");
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, events);
        int? agentPid = null;
        try
        {
            await bridge.StartAsync();
            agentPid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync();

            // End of file never comes (the child holds the pipe): only the process's own exit can end this turn.
            var outcome = await bridge.PromptAsync(session, "die").OrTimeout(20);

            Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited), () => $"{outcome}; stderr: {bridge.AgentStderrTail}");
            Assert.That(outcome.Exit!.ExitCode, Is.EqualTo(3));
            Assert.That(outcome.Reason, Does.Contain("exit code 3"));
            await Until.TrueAsync(() => events.OfType<AgentExited>().Any(), "AgentExited");
            var exited = events.OfType<AgentExited>().Single();
            Assert.That(exited.ExitCode, Is.EqualTo(3));
            Assert.That(exited.StderrTail, Does.Contain("exiting 3 with a child holding stdout"), "stderr written before the exit is in the tail");

            // G9: the line it wrote just before it died was read and handled.
            Assert.That(events.OfType<ProtocolViolation>().Select(v => v.Reason), Has.One.Contains("containmentlab/last-words"));

            var child = agent.ChildPid ?? throw new AssertionException("the agent wrote no child pid");
            await Until.TrueAsync(() => !ChildAgent.IsAlive(child), $"the child {child} that held the agent's stdout is killed", 10_000);
        }
        finally
        {
            await bridge.DisposeAsync();
            await AssertGoneAsync(agentPid, agent.ChildPid);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task AgentAnswersThenExits_WhileItsChildHoldsStdout_TheAnswerIsTaken_ThenAgentExited()
    {
        using var agent = new ShellAgent("answer-then-die");
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, events);
        int? agentPid = null;
        try
        {
            await bridge.StartAsync();
            agentPid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync();

            var outcome = await bridge.PromptAsync(session, "answer").OrTimeout(20);

            // Its last line (the answer) was written before it died: read, not lost to the death.
            Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), () => $"{outcome}; stderr: {bridge.AgentStderrTail}");
            Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn));
            await Until.TrueAsync(() => events.OfType<AgentExited>().Any(), "AgentExited although end of file never comes", 20_000);
            Assert.That(events.OfType<AgentExited>().Single().ExitCode, Is.EqualTo(3));
        }
        finally
        {
            await bridge.DisposeAsync();
            await AssertGoneAsync(agentPid, agent.ChildPid);
        }
    }

    [Test]
    [CancelAfter(90_000)]
    public async Task AgentFloodsThenExits_WhileItsChildHoldsStdout_EveryLineItWroteIsRead()
    {
        const int Lines = 5_000; // ~300 KB: more than the pipe holds, so the last of them are still in it at the exit
        using var agent = new ShellAgent("flood-then-die", Lines);
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, events);
        int? agentPid = null;
        try
        {
            await bridge.StartAsync();
            agentPid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync();

            var outcome = await bridge.PromptAsync(session, "flood").OrTimeout(60);

            Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited), () => $"{outcome}; stderr: {bridge.AgentStderrTail}");
            Assert.That(outcome.Exit!.ExitCode, Is.EqualTo(3));
            var seen = events.OfType<ProtocolViolation>().Count(v => v.Reason.Contains("containmentlab/line-", StringComparison.Ordinal));
            Assert.That(seen, Is.EqualTo(Lines), "every line the agent wrote before it died was read and handled (G9)");
        }
        finally
        {
            await bridge.DisposeAsync();
            await AssertGoneAsync(agentPid, agent.ChildPid);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task AgentExits_ItsChildKeepsWritingToStdout_TurnEndsAgentExited_AndTheChildIsKilled()
    {
        using var agent = new ShellAgent("descendant-floods");
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, events);
        int? agentPid = null;
        try
        {
            await bridge.StartAsync();
            agentPid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync();

            // Reading ends when the pipe is first seen empty after the exit, or at the drain bound if it never is
            // (ExitDrainTimeoutTests): either way the turn ends, and the writer is killed.
            var outcome = await bridge.PromptAsync(session, "flood").OrTimeout(20);

            Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited), () => $"{outcome}; stderr: {bridge.AgentStderrTail}");
            Assert.That(outcome.Exit!.ExitCode, Is.EqualTo(3));
            var child = agent.ChildPid ?? throw new AssertionException("the agent wrote no child pid");
            await Until.TrueAsync(() => !ChildAgent.IsAlive(child), $"the writing child {child} is killed", 10_000);
        }
        finally
        {
            await bridge.DisposeAsync();
            await AssertGoneAsync(agentPid, agent.ChildPid);
        }
    }

    private static async Task AssertGoneAsync(params int?[] pids)
    {
        foreach (var pid in pids)
        {
            if (pid is { } p)
            {
                await ChildAgent.AssertGoneAsync(p);
            }
        }
    }
}
