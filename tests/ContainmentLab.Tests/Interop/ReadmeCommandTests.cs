using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Interop;

/// <summary>
/// The README's "Drive your own agent with the bridge" command, run as written from the repository root: the CLI runs
/// tests/interop/sdk-agent-stop.yaml, whose agent is an ACP agent written with the official SDK, and the fixture passes.
/// </summary>
[TestFixture]
[Category("Interop")]
[Category("Process")]
[NonParallelizable]
public sealed class ReadmeCommandTests
{
    [Test]
    [CancelAfter(90_000)]
    public async Task DriveYourOwnAgent_SdkAgentFixture_PassesFromTheRepositoryRoot(CancellationToken cancellationToken)
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(InteropSetup.RepositoryRoot, "README.md"), cancellationToken);
        Assert.That(readme, Does.Contain("-- run tests/interop/sdk-agent-stop.yaml"), "the README shows the command this test runs");

        var run = await NodeProcess.RunAsync(InteropSetup.CliPath, ["run", "tests/interop/sdk-agent-stop.yaml"], InteropSetup.RepositoryRoot, TimeSpan.FromSeconds(60), cancellationToken);

        var context = $"exit code {run.ExitCode}\nstdout: {run.Stdout}\nstderr: {run.Stderr}";
        await ChildAgent.AssertGoneAsync(run.ProcessId);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, context);
            Assert.That(run.Stdout, Does.Contain("1 of 1 fixtures passed."), context);
            Assert.That(run.Stdout, Does.Contain("ToolSkipped"), "the SDK agent's calls after the cancel were refused");
            Assert.That(run.Stdout, Does.Contain("Cancelled (cancelled)"), context);
        });
    }
}
