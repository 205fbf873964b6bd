using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Sweep;

/// <summary>The bridge's side of G7: its agent carries the cookie, its lease names the agent, and the lease goes with the bridge.</summary>
[TestFixture]
[Category("G7")]
[Category("Process")]
[NonParallelizable]
[Platform(Include = "Linux")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BridgeLeaseTests
{
    [Test]
    [CancelAfter(60_000)]
    public async Task StartAsync_ChildAgent_WritesLeaseAndGivesAgentTheCookie()
    {
        var dir = Directory.CreateTempSubdirectory("cl-sweep-bridge-").FullName;
        using var agent = new ChildAgent("""
            prompts:
              - steps:
                  - end: end_turn
            """);
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            Sweep = new OrphanSweepOptions { RuntimeDirectory = dir },
        });
        var table = new LinuxProcessTable();
        int? pid = null;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId!.Value;

            var lease = new LeaseRegistry(dir).ReadAll().Leases.Single();
            Assert.That(lease.HostPid, Is.EqualTo(Environment.ProcessId));
            Assert.That(lease.HostStartTime, Is.EqualTo(table.GetStartTime(Environment.ProcessId)));
            Assert.That(lease.AgentPid, Is.EqualTo(pid));
            Assert.That(lease.AgentStartTime, Is.EqualTo(table.GetStartTime(pid.Value)));
            Assert.That(lease.AgentCookies, Has.Count.EqualTo(1), "one cookie for this agent incarnation");
            Assert.That(table.HasEnvironmentEntry(pid.Value, AgentCookie.EnvironmentVariable, lease.AgentCookies[0]), Is.True);
            Assert.That(lease.Cookie, Is.Not.EqualTo(lease.AgentCookies[0]), "the host's own cookie (its terminals') is another");

            await bridge.DisposeAsync();

            Assert.That(new LeaseRegistry(dir).ReadAll().Leases, Is.Empty, "the lease goes with the bridge");
        }
        finally
        {
            await bridge.DisposeAsync();
            if (pid is { } p)
            {
                await ChildAgent.AssertGoneAsync(p);
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task StartAsync_LeasesDisabled_WritesNothingAndGivesNoCookie()
    {
        var dir = Directory.CreateTempSubdirectory("cl-sweep-bridge-").FullName;
        using var agent = new ChildAgent("""
            prompts:
              - steps:
                  - end: end_turn
            """);
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            Sweep = new OrphanSweepOptions { RuntimeDirectory = dir, Enabled = false, SweepAtStart = false },
        });
        int? pid = null;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId!.Value;

            Assert.That(Directory.GetFiles(dir), Is.Empty);
            var environ = await File.ReadAllTextAsync($"/proc/{pid}/environ");
            Assert.That(environ, Does.Not.Contain(AgentCookie.EnvironmentVariable));
        }
        finally
        {
            await bridge.DisposeAsync();
            if (pid is { } p)
            {
                await ChildAgent.AssertGoneAsync(p);
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task StartAsync_LeaseDirectoryOwnedByAnotherUser_PublishesLeaseProblemAndWritesNothingThere()
    {
        Assume.That(NativeUser.EffectiveUserId(), Is.Zero, "making a directory another user's needs root (chown)");
        var dir = Directory.CreateTempSubdirectory("cl-sweep-bridge-").FullName;
        SpecialFiles.GiveTo(dir);
        using var agent = new ChildAgent("""
            prompts:
              - steps:
                  - end: end_turn
            """);
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            Sweep = new OrphanSweepOptions { RuntimeDirectory = dir },
        });
        var problems = new System.Collections.Concurrent.ConcurrentQueue<LeaseProblem>();
        bridge.Events.Subscribe(e =>
        {
            if (e is LeaseProblem problem)
            {
                problems.Enqueue(problem);
            }
        });
        int? pid = null;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId;

            // Two of them: the lease could not be written, and the sweep at start found the directory untrustworthy.
            await Until.TrueAsync(() => problems.Count >= 2, "a LeaseProblem for the write and one for the sweep");
            Assert.That(problems.Select(p => p.Reason), Has.Some.Contains("owned by uid 65534").And.Contains("no lease is written"));
            Assert.That(problems.Select(p => p.Reason), Has.Some.Contains("owned by uid 65534").And.Contains("only our own lease files"));
            Assert.That(Directory.GetFileSystemEntries(dir), Is.Empty, "no lease in another user's directory");
        }
        finally
        {
            await bridge.DisposeAsync();
            if (pid is { } p)
            {
                await ChildAgent.AssertGoneAsync(p);
            }

            Directory.Delete(dir, recursive: true);
        }
    }
}
