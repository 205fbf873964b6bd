using System.Diagnostics;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Sweep;

/// <summary>G7 with real processes: a host SIGKILLed with its agent's tree left behind, and things that must survive.</summary>
[TestFixture]
[Category("G7")]
[Category("Process")]
[NonParallelizable]
[Platform(Include = "Linux")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class OrphanSweepProcessTests
{
    private readonly LinuxProcessTable _table = new();

    private bool IsGone(ProcessIdentity process) => _table.GetStartTime(process.Pid) != process.StartTime;

    [Test]
    [CancelAfter(60_000)]
    public async Task SweepAsync_HostKilled_KillsTheWholeTreeAndNothingElse(CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("cl-sweep-g7-").FullName;
        var registry = new LeaseRegistry(dir);
        var started = new List<ProcessIdentity>();
        HostProcess? dead = null;
        HostProcess? live = null;
        Process? decoy = null;
        try
        {
            dead = await HostProcess.StartAsync(dir, _table, cancellationToken);
            started.AddRange(dead.Tree.Prepend(dead.Host));
            live = await HostProcess.StartAsync(dir, _table, cancellationToken);
            started.AddRange(live.Tree.Prepend(live.Host));

            // Same command line as the orphaned grandchild, but no cookie.
            decoy = Process.Start(new ProcessStartInfo("sleep", ["1000"]) { UseShellExecute = false })!;
            var decoyId = new ProcessIdentity(decoy.Id, _table.GetStartTime(decoy.Id)!.Value);
            started.Add(decoyId);

            // A lease whose pids now belong to someone else: host and agent are the decoy's pid with an older start time.
            registry.Write(new Lease("forged", decoyId.Pid, decoyId.StartTime - 1, AgentCookie.Create())
            {
                AgentPid = decoyId.Pid,
                AgentStartTime = decoyId.StartTime - 1,
            });

            dead.KillHostOnly();
            await Until.TrueAsync(() => IsGone(dead.Host), "the host to die");
            Assert.That(dead.Tree.Where(IsGone), Is.Empty, "the host's death left its tree running");

            var report = await new OrphanSweeper(registry, _table, new OrphanSweepOptions { Grace = TimeSpan.FromMilliseconds(500) })
                .SweepAsync(dryRun: false, cancellationToken);

            Assert.Multiple(() =>
            {
                Assert.That(dead.Tree.Where(p => !IsGone(p)), Is.Empty, "every process of the dead host's tree is gone");
                Assert.That(report.Killed.Select(k => k.Process), Is.EquivalentTo(dead.Tree));
                Assert.That(report.Killed.Count(k => k.Forced), Is.EqualTo(2), "the TERM-ignoring shell and its sleep needed SIGKILL");
                Assert.That(report.Survivors, Is.Empty);
                Assert.That(IsGone(decoyId), Is.False, "the decoy without the cookie survives");
                Assert.That(live.Tree.Prepend(live.Host).Where(IsGone), Is.Empty, "the live host and its tree survive");
                Assert.That(report.StaleLeases.Select(s => (s.Lease.Id, s.Removed)), Is.EquivalentTo(new[] { (dead.LeaseId, true), ("forged", true) }));
                Assert.That(registry.ReadAll().Leases.Select(l => l.Id), Is.EqualTo(new[] { live.LeaseId }));
                Assert.That(report.Duration, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(500)).And.LessThan(TimeSpan.FromSeconds(10)));
            });
        }
        finally
        {
            live?.KillHostOnly();
            foreach (var process in started.Where(p => !IsGone(p)))
            {
                _table.Signal(process.Pid, ProcessSignal.Kill);
            }

            await Until.TrueAsync(() => started.All(IsGone), "every process the test started to be gone");
            dead?.Dispose();
            live?.Dispose();
            decoy?.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task SweepAsync_BridgeHostKilled_KillsItsTerminalsWholeGroupAndSparesALiveHostsTerminal(CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("cl-sweep-terminal-").FullName;
        var script = Path.Combine(dir, "agent.yaml");
        await File.WriteAllTextAsync(script, BridgeHostProcess.Script, cancellationToken);
        var runtime = Path.Combine(dir, "leases");
        var registry = new LeaseRegistry(runtime);
        BridgeHostProcess? dead = null;
        BridgeHostProcess? live = null;
        int[] deadMembers = [];
        int[] liveMembers = [];
        try
        {
            dead = await BridgeHostProcess.StartAsync(runtime, script, cancellationToken);
            live = await BridgeHostProcess.StartAsync(runtime, script, cancellationToken);
            await ProcessGroups.UntilHasAsync(dead.TerminalGroup, 3);
            await ProcessGroups.UntilHasAsync(live.TerminalGroup, 3);
            deadMembers = ProcessGroups.GroupMembers(dead.TerminalGroup);
            liveMembers = ProcessGroups.GroupMembers(live.TerminalGroup);

            dead.KillHostOnly();
            await Until.TrueAsync(() => ProcessGroups.IsDead(dead.HostPid), "the bridge host to die");
            Assert.That(deadMembers.Where(ProcessGroups.IsDead), Is.Empty, "the host's death left its terminal running (setsid: not in the host's group)");

            var report = await new OrphanSweeper(registry, _table, new OrphanSweepOptions { Grace = TimeSpan.FromMilliseconds(500) })
                .SweepAsync(dryRun: false, cancellationToken);

            // From the OS, not from the report: every process of the terminal's group is dead (a zombie under an init
            // that does not reap counts as dead: it runs nothing).
            await Until.TrueAsync(
                () => ProcessGroups.GroupMembers(dead.TerminalGroup).All(ProcessGroups.IsDead) && deadMembers.All(ProcessGroups.IsDead),
                $"every process of the dead host's terminal group {dead.TerminalGroup} dead; the sweep killed {string.Join(", ", report.Killed.Select(k => k.Process.Pid))}",
                timeoutMs: 10_000);
            Assert.Multiple(() =>
            {
                Assert.That(report.Killed.Select(k => k.Process.Pid), Is.SupersetOf(deadMembers), "the sweep found the terminal by the host's cookie");
                Assert.That(report.Survivors, Is.Empty);
                Assert.That(liveMembers.Where(ProcessGroups.IsDead), Is.Empty, "the live host's terminal is never touched");
                Assert.That(ProcessGroups.IsAlive(live.HostPid), Is.True);
                Assert.That(report.StaleLeases.Select(s => (s.Lease.Id, s.Removed)), Is.EqualTo(new[] { (dead.LeaseId, true) }));
                Assert.That(registry.ReadAll().Leases.Select(l => l.Id), Is.EqualTo(new[] { live.LeaseId }));
            });
        }
        finally
        {
            if (dead is not null)
            {
                await dead.KillEverythingAsync(deadMembers);
            }

            if (live is not null)
            {
                await live.KillEverythingAsync(liveMembers);
            }

            dead?.Dispose();
            live?.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }
}
