using ContainmentLab.Dispatch;

namespace ContainmentLab.Tests.Dispatch;

[TestFixture]
public sealed class SandboxTests
{
    private DirectoryInfo _dir = null!;
    private Sandbox _sandbox = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("cl-sandbox-test-");
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "root", "sub"));
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "outside"));
        _sandbox = new Sandbox(Path.Combine(_dir.FullName, "root"));
    }

    [TearDown]
    public void TearDown() => _dir.Delete(recursive: true);

    [Test]
    public void Resolve_RelativeInside_ResolvesUnderRoot()
    {
        Assert.That(_sandbox.Resolve("sub/a.txt"), Is.EqualTo(Path.Combine(_sandbox.Root, "sub", "a.txt")));
    }

    [Test]
    public void Resolve_AbsoluteInside_IsAllowed()
    {
        var path = Path.Combine(_sandbox.Root, "b.txt");

        Assert.That(_sandbox.Resolve(path), Is.EqualTo(path));
    }

    [TestCase("../outside/x.txt")]
    [TestCase("sub/../../outside/x.txt")]
    [TestCase("/etc/passwd")]
    public void Resolve_Escape_IsDenied(string path)
    {
        Assert.That(() => _sandbox.Resolve(path), Throws.TypeOf<ToolDeniedException>().With.Message.Contains("outside the sandbox root"));
    }

    [Test]
    public void Resolve_SymlinkPointingOut_IsDenied()
    {
        Directory.CreateSymbolicLink(Path.Combine(_sandbox.Root, "escape"), Path.Combine(_dir.FullName, "outside"));

        Assert.That(() => _sandbox.Resolve("escape/secret.txt"), Throws.TypeOf<ToolDeniedException>());
    }

    [Test]
    public void Resolve_SymlinkInsideRoot_IsAllowed()
    {
        Directory.CreateSymbolicLink(Path.Combine(_sandbox.Root, "alias"), Path.Combine(_sandbox.Root, "sub"));

        Assert.That(_sandbox.Resolve("alias/c.txt"), Is.EqualTo(Path.Combine(_sandbox.Root, "sub", "c.txt")));
    }
}
