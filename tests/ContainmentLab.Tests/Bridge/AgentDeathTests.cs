using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>G5 with real child processes: agent death is seen at once, typed, and the next session gets a fresh agent.</summary>
[TestFixture]
[Category("G5")]
[Category("Process")]
[NonParallelizable]
public sealed class AgentDeathTests
{
    private static readonly string s_sandbox = Directory.CreateTempSubdirectory("cl-death-tests-").FullName;

    private const string Healthy = """
        prompts:
          - steps:
              - tool: desktop.press
                arguments: { target: OK }
              - end: end_turn
        """;

    /// <summary>A bridge whose Nth agent start runs the Nth script (the last repeats), each a real child process.</summary>
    private sealed class Lab : IAsyncDisposable
    {
        private readonly List<ChildAgent> _agents;
        private int _starts;

        public Lab(int restartBudget, params string[] scripts)
        {
            _agents = [.. scripts.Select(s => new ChildAgent(s))];
            Bridge = new AcpBridge(new BridgeOptions
            {
                TransportFactory = () =>
                {
                    var process = AgentProcess.Start(_agents[Math.Min(_starts++, _agents.Count - 1)].Command);
                    Pids.Add(process.ProcessId!.Value);
                    return process;
                },
                SandboxRoot = s_sandbox,
                Restart = new RestartOptions { Budget = restartBudget, InitialBackoff = TimeSpan.FromMilliseconds(10) },
                ShutdownGrace = TimeSpan.FromSeconds(2),
            });
            Bridge.Events.Subscribe(Events.Enqueue);
        }

        public AcpBridge Bridge { get; }

        public ConcurrentQueue<ContainmentEvent> Events { get; } = new();

        public List<int> Pids { get; } = [];

        public async ValueTask DisposeAsync()
        {
            await Bridge.DisposeAsync();
            foreach (var pid in Pids)
            {
                await ChildAgent.AssertGoneAsync(pid);
            }

            _agents.ForEach(a => a.Dispose());
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task CrashMidTurn_PendingPromptFailsWithExitCode_AndNextSessionGetsAFreshAgent()
    {
        await using var lab = new Lab(3, """
            prompts:
              - steps:
                  - tool: desktop.press
                    arguments: { target: OK }
                  - crash: { exit_code: 3 }
            """, Healthy);
        await lab.Bridge.StartAsync();
        var session = await lab.Bridge.NewSessionAsync();

        var outcome = await lab.Bridge.PromptAsync(session, "work").OrTimeout();

        // Seen as the agent's exit with its status, not as a timeout.
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited));
        Assert.That(outcome.Exit!.ExitCode, Is.EqualTo(3));
        Assert.That(outcome.Reason, Does.Contain("exit code 3"));
        Assert.That(lab.Events.OfType<AgentExited>().Single().ExitCode, Is.EqualTo(3));
        var stale = Assert.ThrowsAsync<SessionStateException>(() => lab.Bridge.PromptAsync(session, "again"));
        Assert.That(stale!.Message, Does.Contain("ended with its agent"));

        var fresh = await lab.Bridge.NewSessionAsync().OrTimeout();
        var next = await lab.Bridge.PromptAsync(fresh, "work").OrTimeout();

        Assert.That(next.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(next.StopReason, Is.EqualTo(StopReasons.EndTurn));
        var restarted = lab.Events.OfType<AgentRestarted>().Single();
        Assert.That((restarted.Attempt, restarted.Budget), Is.EqualTo((1, 3)));
        Assert.That(restarted.PreviousExit, Does.Contain("exit code 3"));
        Assert.That(lab.Pids, Has.Count.EqualTo(2));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task CrashBySignal_OutcomeCarriesTheSignal()
    {
        await using var lab = new Lab(0, """
            prompts:
              - steps:
                  - crash: { signal: SIGKILL }
            """);
        await lab.Bridge.StartAsync();
        var session = await lab.Bridge.NewSessionAsync();

        var outcome = await lab.Bridge.PromptAsync(session, "work").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited));
        Assert.That(outcome.Exit!.Signal, Is.EqualTo(9));
        Assert.That(outcome.Reason, Does.Contain("killed by signal 9"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task RestartBudgetSpent_NewSessionSaysSo()
    {
        await using var lab = new Lab(1, """
            prompts:
              - steps:
                  - crash: { exit_code: 5 }
            """);
        await lab.Bridge.StartAsync();
        await lab.Bridge.PromptAsync(await lab.Bridge.NewSessionAsync(), "crash").OrTimeout();
        await lab.Bridge.PromptAsync(await lab.Bridge.NewSessionAsync(), "crash again").OrTimeout();

        var ex = Assert.ThrowsAsync<AgentExitedException>(() => lab.Bridge.NewSessionAsync());

        Assert.That(ex!.Message, Does.Contain("restart budget of 1 is spent"));
        Assert.That(ex.ExitCode, Is.EqualTo(5));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task SessionNewRejected_ReachesTheCaller()
    {
        await using var lab = new Lab(0, """
            session_new: { error: { code: -32000, message: "auth required" } }
            """);
        await lab.Bridge.StartAsync();

        var ex = Assert.ThrowsAsync<SessionStateException>(() => lab.Bridge.NewSessionAsync());

        Assert.That(ex!.Message, Does.Contain("rejected session/new (-32000): auth required"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task InitializeRejected_ReachesTheCaller()
    {
        await using var lab = new Lab(0, """
            initialize: { error: { code: -32603, message: "model not loaded" } }
            """);

        var ex = Assert.ThrowsAsync<AgentExitedException>(() => lab.Bridge.StartAsync());

        Assert.That(ex!.Message, Does.Contain("rejected initialize (-32603): model not loaded"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ExitDuringStartup_ReachesTheCallerWithTheExitCode()
    {
        await using var lab = new Lab(0, """
            exit_during_startup: { exit_code: 7 }
            """);

        var ex = Assert.ThrowsAsync<AgentExitedException>(() => lab.Bridge.StartAsync());

        Assert.That(ex!.ExitCode, Is.EqualTo(7));
        Assert.That(ex.Message, Does.Contain("exit code 7"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task StdoutClosedWhileProcessLives_PromptFailsAndTheProcessIsKilled()
    {
        await using var lab = new Lab(0, """
            prompts:
              - steps:
                  - close_stdout: {}
            """);
        await lab.Bridge.StartAsync();
        var session = await lab.Bridge.NewSessionAsync();

        var outcome = await lab.Bridge.PromptAsync(session, "work").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited));
        Assert.That(outcome.Reason, Does.Contain("closed its stdout"));
        await ChildAgent.AssertGoneAsync(lab.Pids.Single());
        Assert.That(outcome.Exit!.Signal, Is.EqualTo(9), "it lived on, so the bridge killed it");
    }
}
