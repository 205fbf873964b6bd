using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

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

    private const int Nobody = SpecialFiles.Nobody;

    private static void Chown(string path, int uid) => SpecialFiles.GiveTo(path, uid);

    private static Lease Valid(string id = "1-a") => new(id, 1, 1, "c");

    [Test]
    [CancelAfter(30_000)]
    [Platform(Include = "Linux")]
    public async Task ReadAll_FifoNamedLikeALease_ReportedWithoutBlocking_AndTheRestRead()
    {
        var registry = new LeaseRegistry(_dir);
        registry.Write(Valid());
        var fifo = Path.Combine(_dir, "fifo.lease.json");
        SpecialFiles.MakeFifo(fifo);
        var read = Task.Run(registry.ReadAll);
        try
        {
            // Bounded: a reader that opens the FIFO blocks until a writer comes; this fails instead of hanging.
            var scan = await read.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.That(scan.Leases, Is.EqualTo(new[] { Valid() }));
            Assert.That(scan.BadLeases.Single().Path, Is.EqualTo(fifo));
            Assert.That(scan.BadLeases.Single().Reason, Does.Contain("FIFO"));
        }
        finally
        {
            SpecialFiles.UnblockReaders(fifo, read);
        }
    }

    [Test]
    [Platform(Include = "Linux")]
    public void ReadAll_SymbolicLinkNamedLikeALease_RefusedNotFollowed()
    {
        var elsewhere = new LeaseRegistry(_dir + "-elsewhere");
        try
        {
            elsewhere.Write(Valid("l"));
            Directory.CreateDirectory(_dir);
            File.CreateSymbolicLink(Path.Combine(_dir, "l.lease.json"), elsewhere.PathOf(Valid("l")));

            var scan = new LeaseRegistry(_dir).ReadAll();

            Assert.That(scan.Leases, Is.Empty);
            Assert.That(scan.BadLeases.Single().Reason, Does.Contain("symbolic link"));
        }
        finally
        {
            Directory.Delete(elsewhere.Directory, recursive: true);
        }
    }

    [Test]
    [Platform(Include = "Linux")]
    public void ReadAll_LeaseFileOwnedByAnotherUser_Refused()
    {
        var registry = new LeaseRegistry(_dir);
        registry.Write(Valid("1-a"));
        registry.Write(Valid("2-b"));
        Chown(registry.PathOf(Valid("2-b")), Nobody);

        var scan = registry.ReadAll();

        Assert.That(scan.Leases, Is.EqualTo(new[] { Valid("1-a") }));
        Assert.That(scan.BadLeases.Single().Path, Is.EqualTo(registry.PathOf(Valid("2-b"))));
        Assert.That(scan.BadLeases.Single().Reason, Does.Contain($"owned by uid {Nobody}"));
    }

    [Test]
    [Platform(Include = "Linux")]
    public void ReadAll_HugeFileNamedLikeALease_RefusedWithoutReadingIt()
    {
        Directory.CreateDirectory(_dir);
        var huge = Path.Combine(_dir, "huge.lease.json");
        using (var stream = File.Create(huge))
        {
            stream.SetLength(64L * 1024 * 1024); // sparse: nothing is written, but a whole read would take 64 MiB
        }

        var scan = new LeaseRegistry(_dir).ReadAll();

        Assert.That(scan.BadLeases.Single().Reason, Does.Contain("over the limit"));
    }

    [Test]
    [Platform(Include = "Linux")]
    public void ReadAll_DirectoryOwnedByAnotherUser_ReportedAndOnlyOurOwnLeasesRead()
    {
        var registry = new LeaseRegistry(_dir);
        registry.Write(Valid("1-a"));
        registry.Write(Valid("2-b"));
        Chown(registry.PathOf(Valid("2-b")), Nobody);
        Chown(_dir, Nobody);

        var scan = registry.ReadAll();

        Assert.That(scan.DirectoryProblem, Does.Contain($"owned by uid {Nobody}"));
        Assert.That(scan.Leases, Is.EqualTo(new[] { Valid("1-a") }), "a file of ours is still ours: it is read");
        Assert.That(scan.BadLeases.Select(b => b.Path), Is.EqualTo(new[] { registry.PathOf(Valid("2-b")) }));
    }

    [Test]
    [Platform(Include = "Linux")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void ReadAll_DirectoryWritableByOthers_ReportedAndTheirLeasesRefused()
    {
        var registry = new LeaseRegistry(_dir);
        registry.Write(Valid("1-a"));
        registry.Write(Valid("2-b"));
        Chown(registry.PathOf(Valid("2-b")), Nobody); // as if another user had planted it
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_111_111);

        var scan = registry.ReadAll();

        Assert.That(scan.DirectoryProblem, Does.Contain("0777").And.Contain("other users"));
        Assert.That(scan.Leases, Is.EqualTo(new[] { Valid("1-a") }));
        Assert.That(scan.BadLeases.Single().Reason, Does.Contain($"owned by uid {Nobody}"));
    }

    [Test]
    [Platform(Include = "Linux")]
    public void ReadAll_DirectoryIsASymbolicLink_RefusedAndNothingRead()
    {
        var real = new LeaseRegistry(_dir + "-real");
        try
        {
            real.Write(Valid());
            Directory.CreateSymbolicLink(_dir, real.Directory);

            var scan = new LeaseRegistry(_dir).ReadAll();

            Assert.That(scan.DirectoryProblem, Does.Contain("symbolic link"));
            Assert.That(scan.Leases, Is.Empty);
        }
        finally
        {
            Directory.Delete(real.Directory, recursive: true);
            File.Delete(_dir);
        }
    }

    [Test]
    [Platform(Include = "Linux")]
    public void Write_DirectoryOwnedByAnotherUser_RefusedWithTheReason()
    {
        Directory.CreateDirectory(_dir);
        Chown(_dir, Nobody);
        var registry = new LeaseRegistry(_dir);

        var ex = Assert.Throws<LeaseDirectoryException>(() => registry.Write(Valid()));

        Assert.That(ex!.Message, Does.Contain(_dir).And.Contain($"owned by uid {Nobody}"));
        Assert.That(Directory.GetFiles(_dir), Is.Empty, "nothing written there");
    }

    [Test]
    public async Task ReadAll_LeaseWithOneCookieOfTheOldFormat_StillReads()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "42-abcdef01.lease.json");
        await File.WriteAllTextAsync(path, """
            { "id": "42-abcdef01", "hostPid": 42, "hostStartTime": 4242, "cookie": "c0ffee", "agentPid": 43, "writtenAt": "2026-12-01T00:00:00+00:00" }
            """);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var lease = new LeaseRegistry(_dir).ReadAll().Leases.Single();

        Assert.That(lease.Cookie, Is.EqualTo("c0ffee"));
        Assert.That(lease.AgentCookies, Is.Empty);
        Assert.That(lease.Cookies, Is.EqualTo(new[] { "c0ffee" }), "its one cookie (the agent's, then) is still swept");
    }

    [Test]
    public void Write_ThenReadAll_RoundTripsAgentCookies()
    {
        var registry = new LeaseRegistry(_dir);
        var lease = new Lease("1-a", 1, 1, "host") { AgentCookies = ["a1", "a2"] };

        registry.Write(lease);

        Assert.That(registry.ReadAll().Leases.Single(), Is.EqualTo(lease));
        Assert.That(File.ReadAllText(registry.PathOf(lease)), Does.Contain("\"agentCookies\"").And.Not.Contain("\"cookies\""));
    }
}
