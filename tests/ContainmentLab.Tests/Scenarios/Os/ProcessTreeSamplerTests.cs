using System.Diagnostics;
using ContainmentLab.Scenarios.Os;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Scenarios.Os;

/// <summary>
/// The process-tree sampler and the reaper on real processes: descendants that called setsid and were reparented are
/// still followed, a fast double fork under the reaper cannot escape, agents' exit times come from their pidfd, and
/// whatever is left is reported and then killed — checked from /proc, not from the sampler.
/// </summary>
[TestFixture]
[Category("Process")]
[Category("G7")]
[CancelAfter(60_000)]
[Platform("Linux")]
public sealed class ProcessTreeSamplerTests
{
    private readonly List<Process> _started = [];
    private readonly List<ObservedProcess> _seen = [];
    private long _start;

    [SetUp]
    public void SetUp() => _start = TimeProvider.System.GetTimestamp();

    [TearDown]
    public async Task TearDown()
    {
        // Whatever a test left, killed and checked gone: processes first, then the roots.
        ProcessTreeSampler.Kill(_seen);
        foreach (var process in _started)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }

        foreach (var seen in _seen)
        {
            await Until.TrueAsync(() => !ProcFs.IsAlive(seen.Pid, seen.StartTime), $"pid {seen.Pid} ({seen.CommandLine}) gone");
        }

        // NUnit keeps one instance for all the tests of a fixture.
        _started.Clear();
        _seen.Clear();
    }

    private TimeSpan Clock() => TimeProvider.System.GetElapsedTime(_start);

    private Process Start(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        _started.Add(process);
        return process;
    }

    private ObservedProcess SeenRunning(ProcessTreeSampler sampler, string commandLine)
    {
        var found = sampler.Snapshot().LastOrDefault(p => p.CommandLine == commandLine && p.GoneAt is null)
            ?? throw new AssertionException($"'{commandLine}' not in the sampled tree:\n{string.Join("\n", sampler.Snapshot())}");
        _seen.Add(found);
        return found;
    }

    [Test]
    public async Task Sampler_SetsidGrandchildWhoseParentDied_IsStillFollowed()
    {
        var root = Start("sh", "-c", "setsid sleep 3011 & exec sleep 3012");
        using var sampler = new ProcessTreeSampler(() => [(root.Id, ProcessRole.Agent)], Clock, TimeProvider.System);
        await Until.TrueAsync(() => sampler.Snapshot().Any(p => p.CommandLine == "sleep 3011" && p.GoneAt is null), "the setsid'd grandchild sampled");
        var orphan = SeenRunning(sampler, "sleep 3011");
        Assert.That(orphan.SessionId, Is.EqualTo(orphan.Pid), "it leads a session of its own: no group or session links it to the root");

        var killedAt = Clock();
        root.Kill();
        await root.WaitForExitAsync();
        await Until.TrueAsync(() => sampler.AgentDeaths().Count == 1, "the root's death seen");

        // Reparented away from the dead root, and still in the tree.
        var leftovers = await sampler.WaitUntilGoneAsync(TimeSpan.FromMilliseconds(100), p => p.Role != ProcessRole.Agent);
        Assert.That(leftovers.Select(p => p.Pid), Is.EqualTo(new[] { orphan.Pid }));
        Assert.That(leftovers[0].ParentPid, Is.Not.EqualTo(root.Id));
        var death = sampler.AgentDeaths().Single();
        Assert.That(death.Pid, Is.EqualTo(root.Id));
        Assert.That(death.Source, Is.EqualTo("pidfd"));
        Assert.That(death.At, Is.GreaterThanOrEqualTo(killedAt));

        ProcessTreeSampler.Kill(leftovers);
        Assert.That(await sampler.WaitUntilGoneAsync(TimeSpan.FromSeconds(20), _ => true), Is.Empty);
        Assert.That(ProcFs.IsAlive(orphan.Pid, orphan.StartTime), Is.False, "gone, from /proc");
    }

    [Test]
    public async Task Reaper_FastDoubleFork_CannotEscapeTheTree()
    {
        // The intermediate shell forks and exits at once: no sampler could see it, but its child is reparented to the reaper.
        var reaper = Start(RepositoryPaths.Cli, ChildReaper.Verb, "--", "sh", "-c", "(setsid sleep 3021 &); exit 0");
        using var sampler = new ProcessTreeSampler(() => [(reaper.Id, ProcessRole.Reaper)], Clock, TimeProvider.System);
        await Until.TrueAsync(() => sampler.Snapshot().Any(p => p.CommandLine == "sleep 3021" && p.GoneAt is null), "the double-forked daemon sampled");
        await Until.TrueAsync(() => ProcFs.Stat(SeenRunning(sampler, "sleep 3021").Pid)?.ParentPid == reaper.Id, "reparented to the reaper");
        var daemon = _seen[^1];

        // The reaper ends when its stdin closes, and takes everything below it along.
        reaper.StandardInput.Close();
        await reaper.WaitForExitAsync();
        Assert.That(reaper.ExitCode, Is.Zero);
        await Until.TrueAsync(() => !ProcFs.IsAlive(daemon.Pid, daemon.StartTime), "the daemon killed by the reaper");
    }

    [Test]
    public async Task RunProcessWatch_Finish_ReportsTheLeftoverThenKillsIt()
    {
        var root = Start("sh", "-c", "setsid sleep 3031 & exec sleep 3032");
        using var watch = RunProcessWatch.ForAgents(() => root.Id, Clock, TimeProvider.System)!;
        await Until.TrueAsync(() => watch.Sampler.Snapshot().Any(p => p.CommandLine == "sleep 3031"), "the tree sampled");
        var daemon = SeenRunning(watch.Sampler, "sleep 3031");
        root.Kill();
        await root.WaitForExitAsync();

        var evidence = await watch.FinishAsync();

        Assert.That(evidence.Leftovers.Select(p => p.Pid), Is.EqualTo(new[] { daemon.Pid }));
        Assert.That(evidence.Leftovers[0].ToString(), Does.StartWith($"pid {daemon.Pid} `sleep 3031` (descendant, first seen at"));
        Assert.That(evidence.CleanupFailures, Is.Empty);
        Assert.That(evidence.AgentDeaths.Single().Pid, Is.EqualTo(root.Id));
        Assert.That(ProcFs.IsAlive(daemon.Pid, daemon.StartTime), Is.False, "the runner's clean-up killed it, from /proc");
    }
}
