using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>Descendants an agent leaves behind (reparented, so the tree kill misses them) die with it, found by cookie.</summary>
[TestFixture]
[Category("G5")]
[Category("G7")]
[Category("Process")]
[NonParallelizable]
public sealed partial class AgentLeftoverTests
{
    [GeneratedRegex(@"spawned pid=(\d+)")]
    private static partial Regex SpawnedPid();

    private static List<int> Spawned(string stderr) => [.. SpawnedPid().Matches(stderr).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    private static AcpBridge Create(ChildAgent agent, DirectoryInfo runtime, ConcurrentQueue<ContainmentEvent> events)
    {
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            SandboxRoot = runtime.FullName,
            Sweep = new OrphanSweepOptions { RuntimeDirectory = Path.Combine(runtime.FullName, "leases"), SweepAtStart = false },
            Restart = new RestartOptions { Budget = 0 },
        });
        bridge.Events.Subscribe(events.Enqueue);
        return bridge;
    }

    [TestCase("crash: { exit_code: 4 }", TestName = "AgentCrashes_ItsSigtermProofDescendantsAreKilled")]
    [TestCase("stall: forever", TestName = "BridgeDisposed_ItsAgentsSigtermProofDescendantsAreKilled")]
    [CancelAfter(60_000)]
    public async Task Leftovers_AreKilled(string then)
    {
        using var agent = new ChildAgent($$"""
            prompts:
              - steps:
                  - spawn: { depth: 2, ignore_sigterm: true }
                  - {{then}}
            """);
        var runtime = Directory.CreateTempSubdirectory("cl-leftovers-");
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = Create(agent, runtime, events);
        var spawned = new List<int>();
        try
        {
            await bridge.StartAsync();
            var session = await bridge.NewSessionAsync();
            var turn = bridge.PromptAsync(session, "spawn");
            await Until.TrueAsync(() => Spawned(bridge.AgentStderrTail).Count == 2, "two descendants spawned");
            spawned = Spawned(bridge.AgentStderrTail);
            Assert.That(spawned.All(ChildAgent.IsAlive), Is.True);

            if (then.StartsWith("crash", StringComparison.Ordinal))
            {
                Assert.That((await turn.OrTimeout()).End, Is.EqualTo(TurnEnd.AgentExited));
                await Until.TrueAsync(() => events.OfType<AgentExited>().Any(), "AgentExited (published after the clean-up)");
            }
            else
            {
                await bridge.DisposeAsync();
                var outcome = await turn.OrTimeout();
                Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited), $"{outcome.Reason}; stderr: {bridge.AgentStderrTail}");
            }

            foreach (var pid in spawned)
            {
                await Until.TrueAsync(() => !ChildAgent.IsAlive(pid), $"descendant {pid} killed", 5_000);
            }
        }
        finally
        {
            await bridge.DisposeAsync();
            foreach (var pid in spawned)
            {
                await ChildAgent.AssertGoneAsync(pid);
            }

            runtime.Delete(recursive: true);
        }
    }
}
