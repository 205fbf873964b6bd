using ContainmentLab.Sweep;

namespace ContainmentLab.Tests.Sweep;

[TestFixture]
[Category("G7")]
public sealed class LeaseRegistryTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Path.Combine(Path.GetTempPath(), $"cl-leases-{Guid.NewGuid():N}");

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Test]
    public void Write_ThenReadAll_RoundTripsTheLease()
    {
        var registry = new LeaseRegistry(_dir);
        var lease = new Lease("42-abcdef01", 42, 4242, "cookie") { AgentPid = 43, AgentStartTime = 4343, Agent = "agent --x", BootId = "b", WrittenAt = DateTimeOffset.UnixEpoch };

        registry.Write(lease);
        registry.Write(lease with { AgentPid = 44 });

        Assert.That(registry.ReadAll().Leases, Is.EqualTo(new[] { lease with { AgentPid = 44 } }));
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "replaced in place, no temp file left");
    }

    [Test]
    [Platform(Exclude = "Win")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Write_NewDirectory_IsPrivateToTheUser()
    {
        var registry = new LeaseRegistry(_dir);
        var lease = new Lease("1-a", 1, 1, "c");

        registry.Write(lease);

        Assert.That(File.GetUnixFileMode(_dir), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        Assert.That(File.GetUnixFileMode(registry.PathOf(lease)), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Test]
    public void Delete_RemovesTheLeaseAndToleratesAMissingOne()
    {
        var registry = new LeaseRegistry(_dir);
        var lease = new Lease("1-a", 1, 1, "c");
        registry.Write(lease);

        registry.Delete(lease);
        registry.Delete(lease);

        Assert.That(registry.ReadAll().Leases, Is.Empty);
    }

    [Test]
    public void ReadAll_MissingDirectory_HasNoLeases()
    {
        var scan = new LeaseRegistry(_dir).ReadAll();

        Assert.That(scan.Leases, Is.Empty);
        Assert.That(scan.BadLeases, Is.Empty);
    }

    [Test]
    public void ReadAll_IdNotMatchingFileName_IsABadLease()
    {
        var registry = new LeaseRegistry(_dir);
        registry.Write(new Lease("1-a", 1, 1, "c"));
        File.Move(registry.PathOf(new Lease("1-a", 1, 1, "c")), Path.Combine(_dir, "2-b.lease.json"));

        var scan = registry.ReadAll();

        Assert.That(scan.Leases, Is.Empty);
        Assert.That(scan.BadLeases, Has.Count.EqualTo(1));
    }

    [Test]
    public void DefaultDirectory_IsPerUser()
    {
        var expected = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg
            ? Path.Combine(xdg, "containmentlab")
            : null;

        var dir = LeaseRegistry.DefaultDirectory();

        Assert.That(dir, expected is null ? Does.StartWith("/tmp/containmentlab-") : Is.EqualTo(expected));
    }
}
