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

    [Test]
    [CancelAfter(60_000)]
    public Task AgentExitsWhileItsChildHoldsStdout_TurnEndsAgentExited_AndTheChildIsKilled() => RunAsync("die", 0, async (lab, outcome) =>
    {
        // End of file never comes (the child holds the pipe): only the process's own exit can have ended this turn.
        AssertAgentExited(lab, outcome);
        Assert.That(outcome.Reason, Does.Contain("exit code 3"));
        var exited = await lab.AgentExitedAsync();
        Assert.That(exited.StderrTail, Does.Contain("exiting 3 with a child holding stdout"), "stderr written before the exit is in the tail");

        // G9: the line it wrote just before it died was read and handled.
        Assert.That(lab.Events.OfType<ProtocolViolation>().Select(v => v.Reason), Has.One.Contains("containmentlab/last-words"));
        await lab.AssertChildKilledAsync();
    });

    [Test]
    [CancelAfter(60_000)]
    public Task AgentAnswersThenExits_WhileItsChildHoldsStdout_TheAnswerIsTaken_ThenAgentExited() => RunAsync("answer-then-die", 0, async (lab, outcome) =>
    {
        // Its last line (the answer) was written before it died: read, not lost to the death.
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), () => $"{outcome}; stderr: {lab.Bridge.AgentStderrTail}");
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn));
        Assert.That((await lab.AgentExitedAsync()).ExitCode, Is.EqualTo(3), "AgentExited although end of file never comes");
        await lab.AssertChildKilledAsync();
    });

    [Test]
    [CancelAfter(90_000)]
    public Task AgentFloodsThenExits_WhileItsChildHoldsStdout_EveryLineItWroteIsRead()
    {
        const int Lines = 5_000; // ~300 KB: more than the pipe holds, so the last of them are still in it at the exit
        return RunAsync("flood-then-die", Lines, async (lab, outcome) =>
        {
            AssertAgentExited(lab, outcome);
            var seen = lab.Events.OfType<ProtocolViolation>().Count(v => v.Reason.Contains("containmentlab/line-", StringComparison.Ordinal));
            Assert.That(seen, Is.EqualTo(Lines), "every line the agent wrote before it died was read and handled (G9)");
            await lab.AssertChildKilledAsync();
        });
    }

    /// <summary>
    /// Reading ends when the pipe is first seen empty after the exit, or at the drain bound if it never is
    /// (<see cref="ExitDrainTimeoutTests"/>): either way the turn ends, and the writer is killed.
    /// </summary>
    [Test]
    [CancelAfter(60_000)]
    public Task AgentExits_ItsChildKeepsWritingToStdout_TurnEndsAgentExited_AndTheChildIsKilled() => RunAsync("descendant-floods", 0, async (lab, outcome) =>
    {
        AssertAgentExited(lab, outcome);
        await lab.AssertChildKilledAsync();
    });

    private static void AssertAgentExited(Lab lab, TurnOutcome outcome)
    {
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited), () => $"{outcome}; stderr: {lab.Bridge.AgentStderrTail}");
        Assert.That(outcome.Exit!.ExitCode, Is.EqualTo(3));
    }

    /// <summary>Starts the sh agent in <paramref name="mode"/> under a bridge with leases on, prompts once, and checks the outcome; the agent and its child are gone afterwards.</summary>
    private async Task RunAsync(string mode, int count, Func<Lab, TurnOutcome, Task> check)
    {
        using var agent = new ShellAgent(mode, count);
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            SandboxRoot = _runtime.FullName,

            // The cookie is how the bridge finds the child the agent left behind (reparented, so the tree kill misses it).
            Sweep = new OrphanSweepOptions { RuntimeDirectory = Path.Combine(_runtime.FullName, "leases"), SweepAtStart = false },
            Restart = new RestartOptions { Budget = 0 },
        });
        bridge.Events.Subscribe(events.Enqueue);
        int? agentPid = null;
        try
        {
            await bridge.StartAsync();
            agentPid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync();
            var outcome = await bridge.PromptAsync(session, mode).OrTimeout(60);
            await check(new Lab(bridge, events, agent), outcome);
        }
        finally
        {
            await bridge.DisposeAsync();
            foreach (var pid in new[] { agentPid, agent.ChildPid })
            {
                if (pid is { } p)
                {
                    await ChildAgent.AssertGoneAsync(p);
                }
            }
        }
    }

    private sealed record Lab(AcpBridge Bridge, ConcurrentQueue<ContainmentEvent> Events, ShellAgent Agent)
    {
        public async Task<AgentExited> AgentExitedAsync()
        {
            await Until.TrueAsync(() => Events.OfType<AgentExited>().Any(), "AgentExited", 20_000);
            var exited = Events.OfType<AgentExited>().Single();
            Assert.That(exited.ExitCode, Is.EqualTo(3));
            return exited;
        }

        /// <summary>The OS says the child that held the agent's stdio is gone.</summary>
        public async Task AssertChildKilledAsync()
        {
            var child = Agent.ChildPid ?? throw new AssertionException("the agent wrote no child pid");
            await Until.TrueAsync(() => !ChildAgent.IsAlive(child), $"the child {child} that held the agent's stdio is killed", 10_000);
        }
    }
}
