using ContainmentLab.Bridge;
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
            Assert.That(table.HasEnvironmentEntry(pid.Value, AgentCookie.EnvironmentVariable, lease.Cookie), Is.True);

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
}
