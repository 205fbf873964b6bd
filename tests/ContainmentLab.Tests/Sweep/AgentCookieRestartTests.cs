using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Sweep;

/// <summary>
/// Each agent incarnation carries its own cookie: the dead agent's leftover kill (found by cookie) cannot reach the agent
/// started after it, however late the old agent's clean-up runs.
/// </summary>
[TestFixture]
[Category("G5")]
[Category("G7")]
[Category("Process")]
[NonParallelizable]
[Platform(Include = "Linux")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class AgentCookieRestartTests
{
    /// <summary>The first turn leaves a SIGTERM-proof descendant and closes stdout while the agent lives on.</summary>
    private const string Script = """
        prompts:
          - steps:
              - spawn: { depth: 1, ignore_sigterm: true }
              - close_stdout: {}
        """;

    [GeneratedRegex(@"spawned pid=(\d+)")]
    private static partial Regex SpawnedPid();

    [Test]
    [CancelAfter(60_000)]
    public async Task StartAsync_WhileTheOldAgentsCleanUpWaits_TheOldLeftoverKillSparesTheNewAgent()
    {
        var runtime = Directory.CreateTempSubdirectory("cl-cookie-restart-");
        using var agent = new ChildAgent(Script);
        var time = new QuiescentTimeProvider();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            TimeProvider = time,
            SandboxRoot = runtime.FullName,
            Sweep = new OrphanSweepOptions { RuntimeDirectory = Path.Combine(runtime.FullName, "leases"), SweepAtStart = false },
            Restart = new RestartOptions { Budget = 0 },
        });
        bridge.Events.Subscribe(events.Enqueue);
        time.IsQuiet = () => bridge.IsAgentWriterIdle;
        var table = new LinuxProcessTable();
        var pids = new List<int>();
        try
        {
            await bridge.StartAsync();
            var first = bridge.AgentProcessId!.Value;
            pids.Add(first);
            var firstCookie = CookieOf(table, first);
            Assert.That(firstCookie, Is.Not.Null, "the agent carries a cookie");
            var session = await bridge.NewSessionAsync();
            _ = bridge.PromptAsync(session, "spawn, then close stdout");
            await Until.TrueAsync(() => SpawnedPid().IsMatch(bridge.AgentStderrTail), "the first agent's descendant spawned");
            var leftover = int.Parse(SpawnedPid().Match(bridge.AgentStderrTail).Groups[1].Value, CultureInfo.InvariantCulture);
            pids.Add(leftover);

            // The old agent's stdout is closed; its watcher now waits (on virtual time, which stands still) for it to
            // exit before it kills it and its leftovers. Meanwhile a fresh agent starts.
            await RestartUntilANewAgentRunsAsync(bridge, first);
            var second = bridge.AgentProcessId!.Value;
            pids.Add(second);
            var secondStart = table.GetStartTime(second);
            Assert.That(events.OfType<AgentExited>(), Is.Empty, "the old agent's clean-up has not run yet");

            // Now the old watcher's clean-up runs: the old agent is killed, then every carrier of its cookie.
            for (var i = 0; i < 2_000 && !events.OfType<AgentExited>().Any(); i++)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                await Task.Delay(1);
            }

            Assert.That(events.OfType<AgentExited>().Count(), Is.EqualTo(1), "the old agent's clean-up ran");
            await Until.TrueAsync(() => ProcessGroups.IsDead(leftover), $"the old agent's leftover {leftover} killed");

            // The new agent was not: it still answers, and it is the same process.
            var next = await bridge.NewSessionAsync();
            Assert.That(next, Is.Not.Null);
            Assert.That(bridge.AgentProcessId, Is.EqualTo(second));
            Assert.That(table.GetStartTime(second), Is.EqualTo(secondStart), "the new agent is alive, not a zombie or a new process");
            Assert.That(table.HasEnvironmentEntry(second, AgentCookie.EnvironmentVariable, firstCookie!), Is.False,
                "the new agent does not carry the old agent's cookie");
        }
        finally
        {
            await bridge.DisposeAsync();
            foreach (var pid in pids)
            {
                await ChildAgent.AssertGoneAsync(pid);
            }

            runtime.Delete(recursive: true);
        }
    }

    /// <summary>Calls StartAsync until it starts a new agent (it returns at once while the old one still counts as alive).</summary>
    private static async Task RestartUntilANewAgentRunsAsync(AcpBridge bridge, int oldPid)
    {
        var deadline = Environment.TickCount64 + 20_000;
        while (bridge.AgentProcessId == oldPid)
        {
            Assert.That(Environment.TickCount64, Is.LessThan(deadline), "the old agent never counted as gone");
            await bridge.StartAsync();
            await Task.Delay(1);
        }
    }

    /// <summary>The cookie a process was started with, while it lives (null once it is gone).</summary>
    private static string? CookieOf(LinuxProcessTable table, int pid)
    {
        try
        {
            var prefix = AgentCookie.EnvironmentVariable + "=";
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0').FirstOrDefault(e => e.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];
        }
        catch (IOException)
        {
            return table.GetStartTime(pid) is null ? null : throw new InvalidOperationException($"cannot read pid {pid}'s environment");
        }
    }
}
