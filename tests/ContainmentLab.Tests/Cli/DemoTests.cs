using ContainmentLab.Bridge;
using ContainmentLab.Cli.Demo;
using ContainmentLab.Tests.Support;
using Spectre.Console.Testing;

namespace ContainmentLab.Tests.Cli;

[TestFixture]
[Category("Process")]
[Category("G1")]
[Category("G2")]
[Category("G3")]
[NonParallelizable]
public sealed class DemoTests
{
    [Test]
    [CancelAfter(120_000)]
    public async Task RunAsync_ThreeStormingSessions_AllGuaranteesHeldAndAgentGone(CancellationToken cancellationToken)
    {
        var result = await DemoRunner.RunAsync(
            new DemoOptions { Agent = script => new AgentCommand(ChildAgent.Executable, ["--script", script]), StormCount = 1_000, InterruptFirstAfter = 100, InterruptAllAfterMore = 150 },
            cancellationToken);

        Assert.That(result.Problems, Is.Empty);
        Assert.That(result.Sessions, Has.Count.EqualTo(3));
        Assert.That(result.Sessions.Select(s => s.DispatchedAfterInterrupt), Is.All.Zero);
        Assert.That(result.Sessions[0].Dispatched, Is.InRange(100, 999), "session 1 was stopped mid-storm");
        Assert.That(result.Sessions.Skip(1).Select(s => s.Dispatched), Is.All.GreaterThanOrEqualTo(150));
        Assert.That(result.Sessions.Select(s => s.Outcome.End), Is.All.EqualTo(TurnEnd.Cancelled));
        Assert.That(result.AgentGone, Is.True, $"agent pid {result.AgentPid} left running");
        Assert.That(result.AllHeld, Is.True);
    }

    [Test]
    public void Write_FailedGuarantee_SaysSo()
    {
        var outcome = new TurnOutcome("s", TurnEnd.Cancelled, "cancelled", true, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(3), false, null);
        var result = new DemoResult([new SessionReport("s", "Interrupt", 10, 9, 1, 2, outcome, G1: false, G2: true, G3: true)], 42, true, []);
        var console = new TestConsole();
        console.Profile.Width = 200;

        DemoReport.Write(result, console);

        Assert.That(result.AllHeld, Is.False);
        Assert.That(console.Output, Does.Contain("FAILED").And.Contain("A guarantee failed."));
    }
}
