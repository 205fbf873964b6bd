using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>G6: an agent that stops reading its stdin never wedges the host.</summary>
[TestFixture]
[Category("G6")]
public sealed class WedgedPipeTests
{
    /// <summary>Session A's turn makes the agent stop reading; session B's huge prompt then fills the pipe.</summary>
    private const string StopsReading = """
        prompts:
          - steps:
              - stop_reading: forever
              - stall: forever
        """;

    private static readonly string s_hugePrompt = new('x', 4 * 1024 * 1024);

    [Test]
    [CancelAfter(30_000)]
    public async Task InProcess_StalledWrite_MarksWedgedAndCompletesEverything()
    {
        await using var lab = await InProcessBridge.StartAsync(StopsReading, o => InProcessBridge.With(o, writeStallTimeout: TimeSpan.FromSeconds(5), ackTimeout: TimeSpan.FromSeconds(30)));
        var a = await lab.Bridge.NewSessionAsync();
        var b = await lab.Bridge.NewSessionAsync();
        var turnA = lab.Bridge.PromptAsync(a, "stop reading");
        await Until.TrueAsync(() => lab.Engine.IsInputPaused, "the agent stopped reading");
        var turnB = lab.Bridge.PromptAsync(b, s_hugePrompt);
        await Until.TrueAsync(() => lab.Tap.SentLines >= 4, "the huge prompt is being written");

        // The pipe is full and the writer is stuck: Stop must still return at once, without touching the pipe.
        Assert.That(await Task.Run(() => lab.Bridge.Interrupt(a)).OrTimeout(5), Is.True);
        Assert.That(await Task.Run(() => lab.Bridge.InterruptAll()).OrTimeout(5), Is.EqualTo(1));
        Assert.That(lab.Of<AgentWedged>(), Is.Empty);

        lab.Time.AdvanceDuringWrite(TimeSpan.FromSeconds(5));
        var outcomes = await Task.WhenAll(turnA, turnB).OrTimeout();

        Assert.That(lab.Of<AgentWedged>().Single().Stalled, Is.EqualTo(TimeSpan.FromSeconds(5)));
        Assert.That(outcomes.Select(o => o.End), Is.All.EqualTo(TurnEnd.AgentExited));
        Assert.That(outcomes[0].Reason, Does.Contain("wedged"));
        await Until.TrueAsync(() => lab.Of<AgentExited>().Count == 1, "AgentExited");
    }

    [Test]
    [Category("Process")]
    [CancelAfter(60_000)]
    public async Task ChildProcess_StopsReadingStdin_InterruptDoesNotBlock_TreeKilled()
    {
        using var agent = new ChildAgent(StopsReading);
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            WriteStallTimeout = TimeSpan.FromSeconds(1),
            SandboxRoot = Directory.CreateTempSubdirectory("cl-wedge-").FullName,
        });
        bridge.Events.Subscribe(events.Enqueue);
        int pid;
        try
        {
            await bridge.StartAsync();
            pid = bridge.AgentProcessId!.Value;
            var a = await bridge.NewSessionAsync();
            var b = await bridge.NewSessionAsync();
            var turnA = bridge.PromptAsync(a, "stop reading");
            await Until.TrueAsync(() => bridge.AgentStderrTail.Contains("stops reading input", StringComparison.Ordinal), "the agent stopped reading");
            var turnB = bridge.PromptAsync(b, s_hugePrompt);

            Assert.That(await Task.Run(() => bridge.Interrupt(a)).OrTimeout(5), Is.True);
            var outcomes = await Task.WhenAll(turnA, turnB).OrTimeout();

            Assert.That(events.OfType<AgentWedged>().Count(), Is.EqualTo(1));
            Assert.That(outcomes.Select(o => o.End), Is.All.EqualTo(TurnEnd.AgentExited));
            await ChildAgent.AssertGoneAsync(pid);
        }
        finally
        {
            await bridge.DisposeAsync();
        }
    }
}
