using ContainmentLab.Cli;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Sweep;

[TestFixture]
[Category("G7")]
public sealed class SweepCommandTests
{
    [Test]
    public void Write_Report_PrintsStaleLeasesKillsAndDuration()
    {
        var lease = new Lease("100-abc", 100, 10, "c");
        var killed = new SweptProcess(new ProcessIdentity(200, 20), "sleep 1000", lease.Id, Forced: true);
        var report = new SweepReport(false, 2, [new StaleLease(lease, "host pid 100 is gone", true)], [new BadLease("/x.lease.json", "bad json")], [killed], [killed], [], TimeSpan.FromMilliseconds(1500));
        using var output = new StringWriter();

        SweepCommand.Write(report, "/run/cl", output);

        Assert.That(output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "leases in /run/cl: 2 examined, 1 with a dead host",
            "bad lease /x.lease.json: bad json",
            "stale lease 100-abc: host pid 100 is gone; removed",
            "killed (SIGKILL) pid 200 (start 20, lease 100-abc): sleep 1000",
            "killed 1 process(es), 0 survivor(s), in 1.500 s",
        }));
    }

    [Test]
    public async Task Sweep_DryRunOnEmptyDirectory_ExitsZero()
    {
        var dir = Directory.CreateTempSubdirectory("cl-sweep-cli-").FullName;
        try
        {
            var exit = await CliApp.Build().Parse(["sweep", "--dry-run", "--runtime-dir", dir]).InvokeAsync();

            Assert.That(exit, Is.Zero);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    [Platform(Include = "Linux")]
    public async Task Sweep_DirectoryOwnedByAnotherUser_ExitsNonZero()
    {
        var dir = Directory.CreateTempSubdirectory("cl-sweep-cli-").FullName;
        try
        {
            SpecialFiles.GiveTo(dir);

            var exit = await CliApp.Build().Parse(["sweep", "--dry-run", "--runtime-dir", dir]).InvokeAsync();

            Assert.That(exit, Is.EqualTo(1), "a lease directory another user controls: G7 cannot be trusted");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Write_RefusedDirectory_SaysWhyFirst()
    {
        var report = new SweepReport(true, 0, [], [], [], [], [], TimeSpan.Zero) { DirectoryProblem = "owned by uid 65534, not by us (uid 0)" };
        using var output = new StringWriter();

        SweepCommand.Write(report, "/tmp/cl", output);

        Assert.That(output.ToString(), Does.StartWith("refused lease directory /tmp/cl: owned by uid 65534, not by us (uid 0)"));
    }
}
