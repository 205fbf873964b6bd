using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Sweep;

/// <summary>The sweep's decisions against an in-memory process table, on virtual time: no processes, no waiting.</summary>
[TestFixture]
[Category("G7")]
public sealed class OrphanSweeperTests
{
    private const string Cookie = "c00c1e";
    private static readonly TimeSpan s_grace = TimeSpan.FromSeconds(2);

    private string _dir = null!;
    private LeaseRegistry _registry = null!;
    private FakeTimeProvider _time = null!;
    private FakeProcessTable _table = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("cl-sweep-unit-").FullName;
        _registry = new LeaseRegistry(_dir);
        _time = new FakeTimeProvider();
        _table = new FakeProcessTable();
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static Lease DeadHostLease(string cookie = Cookie, string id = "dead") =>
        new(id, HostPid: 100, HostStartTime: 10, cookie) { AgentPid = 200, AgentStartTime = 20, BootId = "boot-1" };

    private async Task<SweepReport> SweepAsync(bool dryRun = false)
    {
        var sweeper = new OrphanSweeper(_registry, _table, new OrphanSweepOptions { Grace = s_grace }, _time);
        var sweep = sweeper.SweepAsync(dryRun);
        for (var i = 0; i < 2_000 && !sweep.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(1);
        }

        return await sweep;
    }

    [Test]
    public async Task SweepAsync_HostGone_TermsAllThenKillsEverySurvivorIncludingDescendants()
    {
        _registry.Write(DeadHostLease());
        _table.Add(200, 20, Cookie, "agent")
              .Add(201, 21, Cookie, "sh -c trap", ignoresTerm: true)
              .Add(202, 22, Cookie, "sleep 1000", ignoresTerm: true)
              .Add(300, 30, cookie: null, "sleep 1000");

        var report = await SweepAsync();

        Assert.That(_table.SignalledPids(ProcessSignal.Terminate), Is.EquivalentTo(new[] { 200, 201, 202 }));
        Assert.That(_table.SignalledPids(ProcessSignal.Kill), Is.EquivalentTo(new[] { 201, 202 }));
        Assert.That(_table.Exists(300), Is.True, "the decoy without the cookie");
        Assert.That(report.Killed.Select(k => (k.Process.Pid, k.Forced)), Is.EquivalentTo(new[] { (200, false), (201, true), (202, true) }));
        Assert.That(report.Survivors, Is.Empty);
        Assert.That(report.StaleLeases.Single().Removed, Is.True);
        Assert.That(_registry.ReadAll().Leases, Is.Empty);
        Assert.That(report.Duration, Is.GreaterThanOrEqualTo(s_grace), "SIGKILL only after the grace");
    }

    [Test]
    public async Task SweepAsync_HostAlive_SignalsNothing()
    {
        _registry.Write(DeadHostLease());
        _table.Add(100, 10).Add(200, 20, Cookie);

        var report = await SweepAsync();

        Assert.That(_table.Signals, Is.Empty);
        Assert.That(report.StaleLeases, Is.Empty);
        Assert.That(report.LeasesExamined, Is.EqualTo(1));
        Assert.That(_registry.ReadAll().Leases, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task SweepAsync_HostPidReusedByAnotherProcess_TreatsHostAsDead()
    {
        _registry.Write(DeadHostLease());
        _table.Add(100, 999).Add(200, 20, Cookie);

        var report = await SweepAsync();

        Assert.That(report.StaleLeases.Single().Reason, Does.Contain("another process"));
        Assert.That(_table.SignalledPids(ProcessSignal.Terminate), Is.EqualTo(new[] { 200 }));
        Assert.That(_table.Exists(100), Is.True, "the process that reused the host's pid");
    }

    [Test]
    public async Task SweepAsync_LeaseFromAnotherBoot_TreatsHostAsDeadEvenWithMatchingPidAndStartTime()
    {
        _registry.Write(DeadHostLease() with { BootId = "boot-0" });
        _table.Add(100, 10).Add(200, 20, Cookie);

        var report = await SweepAsync();

        Assert.That(report.StaleLeases.Single().Reason, Does.Contain("another boot"));
        Assert.That(_table.Signals.Select(s => s.Pid), Does.Not.Contain(100), "the host pid itself is never a target");
    }

    [Test]
    public async Task SweepAsync_AgentPidReusedByProcessWithoutCookie_SignalsNothingAndRemovesLease()
    {
        // The lease names pid 300 as its agent, but 300 is now another process (other start time, no cookie).
        _registry.Write(DeadHostLease() with { AgentPid = 300, AgentStartTime = 29 });
        _table.Add(300, 30, cookie: null, "sleep 1000");

        var report = await SweepAsync();

        Assert.That(_table.Signals, Is.Empty);
        Assert.That(report.Found, Is.Empty);
        Assert.That(report.StaleLeases.Single().Removed, Is.True);
    }

    [Test]
    public async Task SweepAsync_PidReusedBetweenTermAndKill_DoesNotKillTheNewProcess()
    {
        _registry.Write(DeadHostLease());
        _table.Add(201, 21, Cookie, ignoresTerm: true);
        _table.AfterSignal = (pid, signal) =>
        {
            if (pid == 201 && signal == ProcessSignal.Terminate)
            {
                // It exits after all, and an unrelated process gets its pid before the KILL pass.
                _table.Remove(201);
                _table.Add(201, 99, cookie: null);
            }
        };

        var report = await SweepAsync();

        Assert.That(_table.SignalledPids(ProcessSignal.Kill), Is.Empty);
        Assert.That(_table.Exists(201), Is.True);
        Assert.That(report.Survivors, Is.Empty);
    }

    [Test]
    public async Task SweepAsync_DescendantForkedDuringGrace_IsKilledToo()
    {
        _registry.Write(DeadHostLease());
        _table.Add(200, 20, Cookie, ignoresTerm: true);
        _table.AfterSignal = (pid, signal) =>
        {
            if (pid == 200 && signal == ProcessSignal.Terminate)
            {
                _table.Add(210, 40, Cookie, "forked late", ignoresTerm: true);
            }
        };

        var report = await SweepAsync();

        Assert.That(_table.SignalledPids(ProcessSignal.Kill), Is.EquivalentTo(new[] { 200, 210 }));
        Assert.That(report.Killed.Select(k => k.Process.Pid), Is.EquivalentTo(new[] { 200, 210 }));
    }

    [Test]
    public async Task SweepAsync_DryRun_SignalsNothingAndKeepsLease()
    {
        _registry.Write(DeadHostLease());
        _table.Add(200, 20, Cookie).Add(300, 30);

        var report = await SweepAsync(dryRun: true);

        Assert.That(_table.Signals, Is.Empty);
        Assert.That(report.DryRun, Is.True);
        Assert.That(report.Found.Select(f => f.Process), Is.EqualTo(new[] { new ProcessIdentity(200, 20) }));
        Assert.That(report.Killed, Is.Empty);
        Assert.That(_registry.ReadAll().Leases, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task SweepAsync_CurrentProcessCarriesCookie_NeverSignalsItself()
    {
        _registry.Write(DeadHostLease());
        _table.CurrentProcessId = 200;
        _table.Add(200, 20, Cookie).Add(201, 21, Cookie);

        await SweepAsync();

        Assert.That(_table.Signals.Select(s => s.Pid), Has.None.EqualTo(200));
        Assert.That(_table.SignalledPids(ProcessSignal.Terminate), Is.EqualTo(new[] { 201 }));
    }

    [Test]
    public async Task SweepAsync_OtherLeasesCookie_IsNotTouched()
    {
        _registry.Write(DeadHostLease());
        _registry.Write(new Lease("live", 101, 11, "other") { BootId = "boot-1" });
        _table.Add(101, 11).Add(200, 20, Cookie).Add(250, 25, "other").Add(260, 26, "c00c1e-not-quite");

        var report = await SweepAsync();

        Assert.That(_table.Signals.Select(s => s.Pid).Distinct(), Is.EqualTo(new[] { 200 }));
        Assert.That(report.LeasesExamined, Is.EqualTo(2));
    }

    [Test]
    public async Task SweepAsync_BadLeaseFile_IsReportedAndTheRestIsSwept()
    {
        var bad = Path.Combine(_dir, "garbage.lease.json");
        await File.WriteAllTextAsync(bad, "{ not json");
        _registry.Write(DeadHostLease());
        _table.Add(200, 20, Cookie);

        var report = await SweepAsync();

        Assert.That(report.BadLeases.Select(b => b.Path), Is.EqualTo(new[] { bad }));
        Assert.That(report.Killed.Select(k => k.Process.Pid), Is.EqualTo(new[] { 200 }));
        Assert.That(File.Exists(bad), Is.True, "a bad file is reported, not deleted");
    }

    [Test]
    public async Task SweepAsync_SurvivorThatCannotBeKilled_KeepsTheLease()
    {
        _registry.Write(DeadHostLease());
        _table.Add(200, 20, Cookie, ignoresTerm: true);
        _table.AfterSignal = (pid, signal) =>
        {
            if (signal == ProcessSignal.Kill)
            {
                _table.Add(pid, 20, Cookie, ignoresTerm: true); // stuck (uninterruptible sleep): SIGKILL does not land
            }
        };

        var report = await SweepAsync();

        Assert.That(report.Survivors.Select(s => s.Process.Pid), Is.EqualTo(new[] { 200 }));
        Assert.That(report.StaleLeases.Single().Removed, Is.False);
        Assert.That(_registry.ReadAll().Leases, Has.Count.EqualTo(1));
    }

    [Test]
    [Platform(Include = "Linux")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task SweepAsync_LeasePlantedByAnotherUserInALooseDirectory_IsRefusedAndItsCookieNeverSignalled()
    {
        _registry.Write(DeadHostLease());
        _registry.Write(DeadHostLease("victims", "planted"));
        SpecialFiles.GiveTo(_registry.PathOf(DeadHostLease("victims", "planted")));
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_111_111);
        _table.Add(200, 20, Cookie).Add(300, 30, "victims");

        var report = await SweepAsync();

        Assert.That(_table.Signals.Select(s => s.Pid).Distinct(), Is.EqualTo(new[] { 200 }), "only our own dead host's orphan");
        Assert.That(_table.Exists(300), Is.True, "a cookie named by another user's file is not ours to kill");
        Assert.That(report.BadLeases.Single().Reason, Does.Contain("owned by uid 65534"));
        Assert.That(report.DirectoryProblem, Does.Contain("other users"));
    }

    [Test]
    [CancelAfter(30_000)]
    [Platform(Include = "Linux")]
    public async Task SweepAsync_FifoNamedLikeALease_DoesNotHangAndTheRestIsSwept()
    {
        var fifo = Path.Combine(_dir, "fifo.lease.json");
        SpecialFiles.MakeFifo(fifo);
        _registry.Write(DeadHostLease());
        _table.Add(200, 20, Cookie);
        var sweep = Task.Run(() => SweepAsync());
        try
        {
            var report = await sweep.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.That(report.Killed.Select(k => k.Process.Pid), Is.EqualTo(new[] { 200 }));
            Assert.That(report.BadLeases.Single().Path, Is.EqualTo(fifo));
        }
        finally
        {
            SpecialFiles.UnblockReaders(fifo, sweep);
        }
    }

    [Test]
    public async Task SweepAsync_LeaseWithHostAndAgentCookies_KillsTheCarriersOfEach()
    {
        _registry.Write(DeadHostLease("host-cookie") with { AgentCookies = ["agent-1", "agent-2"] });
        _table.Add(200, 20, "agent-1").Add(210, 21, "agent-2").Add(220, 22, "host-cookie").Add(300, 30, "agent-3");

        var report = await SweepAsync();

        Assert.That(report.Killed.Select(k => k.Process.Pid), Is.EquivalentTo(new[] { 200, 210, 220 }));
        Assert.That(_table.Exists(300), Is.True, "a cookie the lease does not name");
    }
}
