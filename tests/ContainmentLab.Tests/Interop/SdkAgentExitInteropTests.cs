using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Interop;

/// <summary>
/// G5 against an agent nobody here wrote: tests/interop/sdk-agent-exit.yaml runs an agent on the official ACP SDK that
/// starts <c>sleep 300</c> with its stdio inherited and exits 3 mid-turn. The fixture passes (the turn ends
/// agent_exited within its bound), and the OS shows the child that held the agent's stdout gone.
/// </summary>
[TestFixture]
[Category("Interop")]
[Category("Process")]
[Category("G5")]
[NonParallelizable]
public sealed partial class SdkAgentExitInteropTests
{
    [GeneratedRegex(@"sdk-agent-exit: child pid=(\d+)")]
    private static partial Regex ChildPid();

    [Test]
    [CancelAfter(90_000)]
    public async Task SdkAgentExitsWithAChildHoldingStdout_FixturePasses_AndTheChildIsGone(CancellationToken cancellationToken)
    {
        var transcripts = Directory.CreateTempSubdirectory("cl-sdk-exit-");
        try
        {
            var run = await NodeProcess.RunAsync(
                InteropSetup.CliPath, ["run", "tests/interop/sdk-agent-exit.yaml", "--transcripts", transcripts.FullName], InteropSetup.RepositoryRoot, TimeSpan.FromSeconds(60), cancellationToken);

            var context = $"exit code {run.ExitCode}\nstdout: {run.Stdout}\nstderr: {run.Stderr}";
            await ChildAgent.AssertGoneAsync(run.ProcessId);
            Assert.That(run.ExitCode, Is.Zero, context);
            Assert.That(run.Stdout, Does.Contain("1 of 1 fixtures passed."), context);

            // The agent's own word (its stderr, in the AgentExited event) names the child; the OS says whether it lives.
            var exited = File.ReadLines(Path.Combine(transcripts.FullName, "sdk-agent-exit.ndjson"))
                .Select(line => JsonDocument.Parse(line).RootElement)
                .Single(e => e.TryGetProperty("event", out var name) && name.GetString() == "AgentExited");
            Assert.That(exited.GetProperty("exitCode").GetInt32(), Is.EqualTo(3));
            var match = ChildPid().Match(exited.GetProperty("stderrTail").GetString() ?? string.Empty);
            Assert.That(match.Success, Is.True, () => $"the agent named its child: {exited}");
            var child = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            await Until.TrueAsync(() => !ChildAgent.IsAlive(child), $"the child {child} that held the agent's stdout is gone", 10_000);
        }
        finally
        {
            transcripts.Delete(recursive: true);
        }
    }
}
