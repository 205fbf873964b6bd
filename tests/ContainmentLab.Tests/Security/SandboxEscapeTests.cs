using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// The fs tools stay inside the sandbox root whatever path the agent sends: <c>..</c>, an absolute path elsewhere, a
/// symlink (to a directory, to a file, dangling) pointing out. Each is denied with a clear error, a <c>denied</c> audit
/// record and a ToolCompleted event — and nothing outside the root is read or written.
/// </summary>
[TestFixture]
[Category("G9")]
[CancelAfter(30_000)]
public sealed class SandboxEscapeTests
{
    private DirectoryInfo _dir = null!;
    private string _root = null!;
    private string _outside = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("cl-escape-");
        _root = Directory.CreateDirectory(Path.Combine(_dir.FullName, "root")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_dir.FullName, "outside")).FullName;
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "host secret");
    }

    [TearDown]
    public void TearDown() => _dir.Delete(recursive: true);

    private async Task<InProcessBridge> RunAsync(string method, string path)
    {
        var arguments = method == AcpMethods.WriteTextFile ? $"{{ path: \"{path}\", content: pwned }}" : $"{{ path: \"{path}\" }}";
        var lab = await InProcessBridge.StartAsync(
            $"""
            prompts:
              - steps:
                  - tool: {method}
                    arguments: {arguments}
                  - end: end_turn
            """,
            o => InProcessBridge.With(o, policies: new PolicySet { Destructive = ToolPolicy.Allow, SideEffect = ToolPolicy.Allow }, sandboxRoot: _root));
        var session = await lab.Bridge.NewSessionAsync();
        var outcome = await lab.Bridge.PromptAsync(session, "go").OrTimeout();
        Assert.That(outcome.End, Is.EqualTo(ContainmentLab.Bridge.TurnEnd.Completed), outcome.Reason);
        return lab;
    }

    private void AssertDenied(InProcessBridge lab)
    {
        var ended = lab.Of<ToolCompleted>().Single();
        Assert.That(ended.Result, Is.EqualTo(AuditKind.Denied));
        Assert.That(ended.Detail, Does.Contain("outside the sandbox root"));
        Assert.That(lab.Audit[^1].Kind, Is.EqualTo(AuditKind.Denied));
        Assert.That(lab.Audit[^1].Detail, Does.Contain("outside the sandbox root"));
        Assert.That(lab.Tap.AnsweredWithError("0"), Is.True);
        Assert.That(lab.AgentLog.ToString(), Does.Contain("refused: -32011"), "the agent got the Denied error");
        Assert.That(lab.AgentLog.ToString(), Does.Not.Contain("host secret"));
        Assert.That(Directory.GetFiles(_outside, "*", SearchOption.AllDirectories).Select(Path.GetFileName), Is.EquivalentTo(new[] { "secret.txt" }), "nothing new outside the root");
        Assert.That(File.ReadAllText(Path.Combine(_outside, "secret.txt")), Is.EqualTo("host secret"));
    }

    [TestCase("../outside/dotdot.txt")]
    [TestCase("a/../../outside/dotdot.txt")]
    public async Task Write_DotDotOut_Denied(string path)
    {
        await using var lab = await RunAsync(AcpMethods.WriteTextFile, path);

        AssertDenied(lab);
    }

    [Test]
    public async Task Write_AbsolutePathOutside_Denied()
    {
        await using var lab = await RunAsync(AcpMethods.WriteTextFile, Path.Combine(_outside, "absolute.txt"));

        AssertDenied(lab);
    }

    [Test]
    public async Task Read_AbsolutePathOutside_DeniedAndNothingRead()
    {
        await using var lab = await RunAsync(AcpMethods.ReadTextFile, Path.Combine(_outside, "secret.txt"));

        AssertDenied(lab);
    }

    [Test]
    public async Task Write_ThroughADirectorySymlinkPointingOut_Denied()
    {
        Directory.CreateSymbolicLink(Path.Combine(_root, "out-link"), _outside);

        await using var lab = await RunAsync(AcpMethods.WriteTextFile, "out-link/via-link.txt");

        AssertDenied(lab);
    }

    [Test]
    public async Task Read_ThroughAFileSymlinkPointingOut_Denied()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "secret-link"), Path.Combine(_outside, "secret.txt"));

        await using var lab = await RunAsync(AcpMethods.ReadTextFile, "secret-link");

        AssertDenied(lab);
    }

    [Test]
    public async Task Write_ThroughADanglingSymlinkPointingOut_DeniedAndNotCreated()
    {
        // Writing through a link whose target does not exist yet would create the file outside.
        File.CreateSymbolicLink(Path.Combine(_root, "dangling"), Path.Combine(_outside, "created.txt"));

        await using var lab = await RunAsync(AcpMethods.WriteTextFile, "dangling");

        AssertDenied(lab);
    }

    [Test]
    public async Task Write_SymlinkThenDotDot_StaysInsideTheRoot()
    {
        // 'in/..' with 'in' a link to a directory outside: the sandbox resolves '..' on the path as spelled and writes
        // the real path it checked (inside), never where the OS would walk the spelling to.
        var deep = Directory.CreateDirectory(Path.Combine(_outside, "deep")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(_root, "in"), deep);

        await using var lab = await RunAsync(AcpMethods.WriteTextFile, "in/../pwn.txt");

        Assert.That(Directory.GetFiles(_outside, "*", SearchOption.AllDirectories).Select(Path.GetFileName), Is.EquivalentTo(new[] { "secret.txt" }));
        Assert.That(lab.Of<ToolCompleted>().Single().Result, Is.EqualTo(AuditKind.Completed));
        Assert.That(File.ReadAllText(Path.Combine(_root, "pwn.txt")), Is.EqualTo("pwned"));
    }
}
