using System.Globalization;
using System.Text.RegularExpressions;
using ContainmentLab.Bridge;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Security;

/// <summary>The agent's environment is an allow-list: a secret in the host's environment reaches neither it nor its descendants.</summary>
[TestFixture]
[Category("G9")]
[Category("Process")]
[NonParallelizable]
public sealed partial class EnvironmentCanaryTests
{
    private const string Canary = "CONTAINMENTLAB_CANARY_SECRET";

    [GeneratedRegex(@"spawned pid=(\d+)")]
    private static partial Regex SpawnedPid();

    private static string Environ(int pid) => File.ReadAllText($"/proc/{pid}/environ").Replace('\0', '\n');

    /// <summary>What a child started without an allow-list sees: the canary is really in the host's environment.</summary>
    private static async Task<string> InheritedByAPlainChildAsync()
    {
        using var env = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/env") { RedirectStandardOutput = true })!;
        var output = await env.StandardOutput.ReadToEndAsync();
        await env.WaitForExitAsync();
        return output;
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task HostSecret_NeverReachesTheAgentOrItsDescendants()
    {
        var secret = "s3cr3t-" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(Canary, secret);
        using var agent = new ChildAgent("""
            prompts:
              - steps:
                  - spawn: { depth: 2 }
                  - stall: forever
            """);
        var runtime = Directory.CreateTempSubdirectory("cl-canary-");
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            SandboxRoot = runtime.FullName,
            Sweep = new OrphanSweepOptions { RuntimeDirectory = Path.Combine(runtime.FullName, "leases"), SweepAtStart = false },
        });
        var pids = new List<int>();
        try
        {
            await bridge.StartAsync();
            pids.Add(bridge.AgentProcessId!.Value);
            _ = bridge.PromptAsync(await bridge.NewSessionAsync(), "spawn");
            await Until.TrueAsync(() => SpawnedPid().Matches(bridge.AgentStderrTail).Count == 2, "two descendants");
            pids.AddRange(SpawnedPid().Matches(bridge.AgentStderrTail).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));

            Assert.That(await InheritedByAPlainChildAsync(), Does.Contain(secret), "a child started the ordinary way would see the canary");
            foreach (var pid in pids)
            {
                var environ = Environ(pid);
                Assert.That(environ, Does.Not.Contain(secret), $"pid {pid} sees the host's secret");
                Assert.That(environ, Does.Not.Contain(Canary), $"pid {pid} sees the secret's name");
                Assert.That(environ, Does.Contain(AgentCookie.EnvironmentVariable + "="), $"pid {pid} is one of the agent's (it carries the cookie)");
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(Canary, null);
            await bridge.DisposeAsync();
            foreach (var pid in pids)
            {
                await ChildAgent.AssertGoneAsync(pid);
            }

            runtime.Delete(recursive: true);
        }
    }
}
