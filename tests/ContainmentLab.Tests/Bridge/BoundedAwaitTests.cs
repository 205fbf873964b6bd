using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// "No await in the bridge is unbounded" (G3, hole 5), in virtual time: the waits that had no bound — the previous
/// agent's clean-up and the restart lock in NewSessionAsync, a restart's start-up, DisposeAsync's wait for the agent's
/// clean-up and for the host tools, an in-process agent that ignores its kill — each end at their bound with a typed
/// outcome, never before it. NOTES-lifecycle.md lists every await of the bridge and the test of each.
/// </summary>
[TestFixture]
[Category("G3")]
[CancelAfter(30_000)]
public sealed class BoundedAwaitTests
{
    private const string HangOnCancel = """
        on_cancel: hang
        prompts:
          - steps:
              - sleep: 1h
        """;

    private const string CrashInTurn = """
        prompts:
          - steps:
              - crash: { exit_code: 3 }
        """;

    [Test]
    public async Task NewSession_DeadAgentsCleanUpNeverEnds_BothCallersGetTimeoutAtRestartTimeout()
    {
        var lab = await InProcessBridge.StartAsync(HangOnCancel, o => Options(o, StuckTransport.Wrap(o)));
        try
        {
            await EscalateAsync(lab);

            // The escalation's kill does nothing: the agent is marked gone, but its watcher never finishes.
            var first = lab.Bridge.NewSessionAsync();
            var second = lab.Bridge.NewSessionAsync();
            lab.Time.Advance(TimeSpan.FromSeconds(9.9));
            await YieldAsync();
            Assert.That(first.IsCompleted || second.IsCompleted, Is.False, "not before RestartTimeout");
            lab.Time.Advance(TimeSpan.FromSeconds(0.1));

            // Both deadlines pass at once; whichever fires first frees the lock, so the other caller may have been waiting
            // for the lock or, briefly, for the clean-up itself: its message names the step it was in.
            var errors = new[] { Assert.ThrowsAsync<TimeoutException>(() => first.OrTimeout()), Assert.ThrowsAsync<TimeoutException>(() => second.OrTimeout()) };
            Assert.That(errors.Select(e => e!.Message), Has.All.Contains("RestartTimeout 10 s"));
            Assert.That(errors.All(e => e!.Message.Contains("waiting for the dead agent's clean-up", StringComparison.Ordinal) || e.Message.Contains("waiting for another restart", StringComparison.Ordinal)), Is.True, () => string.Join("\n", errors.Select(e => e!.Message)));
            Assert.That(errors.Select(e => e!.Message), Has.Some.Contains("waiting for the dead agent's clean-up"));
        }
        finally
        {
            // On the fake clock the stuck watcher holds DisposeAsync until StopTimeout passes: advance it, pass or fail.
            await DisposeAdvancingAsync(lab);
            await lab.DisposeAsync();
        }
    }

    [Test]
    public async Task Dispose_AgentsCleanUpNeverEnds_ReturnsAtStopTimeout()
    {
        var lab = await InProcessBridge.StartAsync(HangOnCancel, o => Options(o, StuckTransport.Wrap(o)));
        try
        {
            await EscalateAsync(lab);
            var start = lab.Time.GetUtcNow();

            await DisposeAdvancingAsync(lab);

            Assert.That(lab.Time.GetUtcNow() - start, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(5)), "it waited for the watcher up to StopTimeout");
        }
        finally
        {
            await DisposeAdvancingAsync(lab);
            await lab.DisposeAsync();
        }
    }

    [Test]
    public async Task Dispose_AHostToolsDisposalNeverEnds_ReturnsAtStopTimeout()
    {
        var lab = await InProcessBridge.StartAsync("prompts: []", o => new BridgeOptions
        {
            TimeProvider = o.TimeProvider,
            SandboxRoot = o.SandboxRoot,
            TransportFactory = o.TransportFactory,
            StopTimeout = TimeSpan.FromSeconds(5),
            Tools = (_, _, _) => new HostToolRegistry().Add(new NeverDisposed()),
        });
        var start = lab.Time.GetUtcNow();

        await DisposeAdvancingAsync(lab);

        Assert.That(lab.Time.GetUtcNow() - start, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(5)));
        await lab.DisposeAsync();
    }

    [Test]
    public async Task NewSession_FreshAgentNeverAnswersInitialize_TimeoutAtRestartTimeout_AndTheAgentIsStopped()
    {
        StreamTransport? silent = null;
        var starts = 0;
        await using var lab = await InProcessBridge.StartAsync(CrashInTurn, o => Options(o, () =>
        {
            if (Interlocked.Increment(ref starts) == 1)
            {
                return o.TransportFactory!();
            }

            // Reads everything, answers nothing, ends when its input does.
            silent = new StreamTransport((input, _, ct) => input.CopyToAsync(Stream.Null, ct), "silent agent", o.TimeProvider);
            return silent;
        }, requestTimeout: TimeSpan.FromSeconds(30)));
        var session = await lab.Bridge.NewSessionAsync();
        Assert.That((await lab.Bridge.PromptAsync(session, "crash").OrTimeout()).End, Is.EqualTo(TurnEnd.AgentExited));
        var start = lab.Time.GetUtcNow();

        var creating = lab.Bridge.NewSessionAsync();
        await Until.TrueAsync(() => { lab.Time.Advance(TimeSpan.FromMilliseconds(500)); return creating.IsCompleted; }, "NewSessionAsync ends");

        var error = Assert.ThrowsAsync<TimeoutException>(() => creating);
        Assert.That(error!.Message, Does.Contain("RestartTimeout 10 s").And.Contain("starting the fresh agent"));
        Assert.That(lab.Time.GetUtcNow() - start, Is.LessThan(TimeSpan.FromSeconds(30)), "the restart's bound, not initialize's own 30 s");
        Assert.That(silent, Is.Not.Null);
        await silent!.Exited.OrTimeout();
        await DisposeAdvancingAsync(lab);
    }

    [Test]
    public async Task Start_CancelledDuringInitialize_StopsTheAgent()
    {
        var time = new QuiescentTimeProvider();
        var silent = new StreamTransport((input, _, ct) => input.CopyToAsync(Stream.Null, ct), "silent agent", time);
        var bridge = new AcpBridge(new BridgeOptions { TimeProvider = time, TransportFactory = () => silent, Restart = new RestartOptions { Budget = 0 } });
        time.IsQuiet = () => bridge.IsAgentWriterIdle;
        using var cancel = new CancellationTokenSource();

        var starting = bridge.StartAsync(cancel.Token);
        await cancel.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(() => starting.OrTimeout(), "the caller's cancellation wins");
        await silent.Exited.OrTimeout();
        var refused = Assert.ThrowsAsync<AgentExitedException>(() => bridge.NewSessionAsync().OrTimeout());
        Assert.That(refused!.Message, Does.Contain("initialize was cancelled"), "the uninitialized agent is not taken for a running one");
        await bridge.DisposeAsync().AsTask().OrTimeout();
    }

    [Test]
    public async Task StreamTransport_AgentIgnoresItsKill_DisposeAndExitWaitReturnAtTheKillGrace()
    {
        var time = new FakeTimeProvider();
        var never = new TaskCompletionSource();
        var transport = new StreamTransport((_, _, _) => never.Task, "deaf agent", time);

        var exit = transport.ExitAfterOutputClosedAsync(time);
        var disposing = transport.DisposeAsync().AsTask();
        time.Advance(StreamTransport.KillGrace - TimeSpan.FromMilliseconds(1));
        await YieldAsync();
        Assert.That(exit.IsCompleted || disposing.IsCompleted, Is.False, "not before the grace");
        time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.That((await exit.OrTimeout()).Describe(), Is.EqualTo("no exit status"));
        await disposing.OrTimeout();
        never.SetResult();
    }

    [Test]
    public async Task Start_AgentNeverAnswersInitialize_TimeoutAtRequestTimeout_NotBefore()
    {
        var time = new QuiescentTimeProvider();
        var silent = new StreamTransport((input, _, ct) => input.CopyToAsync(Stream.Null, ct), "silent agent", time);
        var bridge = new AcpBridge(new BridgeOptions { TimeProvider = time, TransportFactory = () => silent, RequestTimeout = TimeSpan.FromSeconds(30) });
        time.IsQuiet = () => bridge.IsAgentWriterIdle;

        var starting = bridge.StartAsync();
        time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromMilliseconds(1));
        await YieldAsync();
        Assert.That(starting.IsCompleted, Is.False, () => $"not before RequestTimeout: {starting.Exception}");
        time.Advance(TimeSpan.FromMilliseconds(1));

        var error = Assert.ThrowsAsync<TimeoutException>(() => starting.OrTimeout());
        Assert.That(error!.Message, Does.Contain("did not answer 'initialize' within 30 s"));
        await silent.Exited.OrTimeout();
        await bridge.DisposeAsync().AsTask().OrTimeout();
    }

    [Test]
    public async Task NewSession_AgentNeverAnswersSessionNew_TimeoutAtRequestTimeout()
    {
        var time = new QuiescentTimeProvider();
        var bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = time,
            TransportFactory = () => new StreamTransport(AnswersOnlyInitializeAsync, "agent that never answers session/new", time),
            RequestTimeout = TimeSpan.FromSeconds(30),
        });
        time.IsQuiet = () => bridge.IsAgentWriterIdle;
        await bridge.StartAsync().OrTimeout();

        var creating = bridge.NewSessionAsync();
        await YieldAsync();
        time.Advance(TimeSpan.FromSeconds(30));

        var error = Assert.ThrowsAsync<TimeoutException>(() => creating.OrTimeout());
        Assert.That(error!.Message, Does.Contain("did not answer 'session/new' within 30 s"));
        await DisposeAdvancingAsync(bridge, time);
    }

    [Test]
    public async Task NewSession_AfterACrash_WaitsTheRestartBackoff_ThenStartsAFreshAgent()
    {
        await using var lab = await InProcessBridge.StartAsync(CrashInTurn, o => new BridgeOptions
        {
            TimeProvider = o.TimeProvider,
            SandboxRoot = o.SandboxRoot,
            TransportFactory = o.TransportFactory,
            Restart = new RestartOptions { Budget = 1, InitialBackoff = TimeSpan.FromSeconds(2) },
        });
        Assert.That((await lab.Bridge.PromptAsync(await lab.Bridge.NewSessionAsync(), "crash").OrTimeout()).End, Is.EqualTo(TurnEnd.AgentExited));

        var creating = lab.Bridge.NewSessionAsync();
        await Until.TrueAsync(() => lab.Of<AgentRestarted>().Count == 1, "the restart began");
        lab.Time.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(1));
        await YieldAsync();
        Assert.That(creating.IsCompleted, Is.False, "not before the backoff");
        lab.Time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.That(await creating.OrTimeout(), Is.EqualTo("sess-1#2"));
        Assert.That(lab.Of<AgentStarted>(), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task Prompt_CallersCancellation_ThrowsAndInterruptsTheSession()
    {
        await using var lab = await InProcessBridge.StartAsync(HangOnCancel);
        var session = await lab.Bridge.NewSessionAsync();
        using var cancel = new CancellationTokenSource();

        var turn = lab.Bridge.PromptAsync(session, "work", cancel.Token);
        await Until.TrueAsync(() => lab.Tap.SentLines >= 3, "prompt on the wire");
        await cancel.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(() => turn.OrTimeout(), "the caller's own cancellation is not a timeout");
        Assert.That(lab.Of<CancelSent>().Select(c => c.SessionId), Is.EqualTo(new[] { session }), "the caller's cancellation is a Stop for the session");
    }

    [Test]
    public async Task StreamTransport_Stop_AgentIgnoresEndOfInput_KilledAfterTheGrace()
    {
        var time = new QuiescentTimeProvider();
        var transport = new StreamTransport((_, _, ct) => Task.Delay(Timeout.Infinite, ct), "agent that never reads", time);

        var stopping = transport.StopAsync(TimeSpan.FromSeconds(2), time);
        await YieldAsync();
        Assert.That(stopping.IsCompleted, Is.False, "not before the grace");
        time.Advance(TimeSpan.FromSeconds(2));

        await stopping.OrTimeout();
        Assert.That((await transport.Exited.OrTimeout()).ExitCode, Is.EqualTo(137), "killed: its token was cancelled");
        await transport.DisposeAsync();
    }

    private static BridgeOptions Options(BridgeOptions o, Func<IAgentTransport> transport, TimeSpan? requestTimeout = null) => new()
    {
        TimeProvider = o.TimeProvider,
        SandboxRoot = o.SandboxRoot,
        HttpClient = o.HttpClient,
        WireTap = o.WireTap,
        TransportFactory = transport,
        AckTimeout = TimeSpan.FromSeconds(1),
        RestartTimeout = TimeSpan.FromSeconds(10),
        StopTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = requestTimeout ?? o.RequestTimeout,
        Restart = new RestartOptions { Budget = 3, InitialBackoff = TimeSpan.Zero },
    };

    /// <summary>Prompts, presses Stop, and lets AckTimeout pass: the turn ends Escalated and the agent is marked gone.</summary>
    private static async Task EscalateAsync(InProcessBridge lab)
    {
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "work");
        await Until.TrueAsync(() => lab.Tap.SentLines >= 3, "prompt on the wire");
        Assert.That(lab.Bridge.Interrupt(session), Is.True);
        await Until.TrueAsync(() => { lab.Time.Advance(TimeSpan.FromMilliseconds(250)); return turn.IsCompleted; }, "the escalation");
        Assert.That((await turn).End, Is.EqualTo(TurnEnd.Escalated));
    }

    private static Task DisposeAdvancingAsync(InProcessBridge lab) => DisposeAdvancingAsync(lab.Bridge, lab.Time);

    private static async Task DisposeAdvancingAsync(AcpBridge bridge, FakeTimeProvider time)
    {
        var disposing = bridge.DisposeAsync().AsTask();
        await Until.TrueAsync(() => { time.Advance(TimeSpan.FromMilliseconds(500)); return disposing.IsCompleted; }, "DisposeAsync returns");
        await disposing;
    }

    private static async Task YieldAsync()
    {
        for (var i = 0; i < 10; i++)
        {
            await Task.Yield();
        }
    }

    /// <summary>An in-process agent that answers <c>initialize</c> and nothing else.</summary>
    private static async Task AnswersOnlyInitializeAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(input);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Contains("\"method\":\"initialize\"", StringComparison.Ordinal))
            {
                var answer = "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":1,\"agentCapabilities\":{},\"authMethods\":[]}}\n"u8.ToArray();
                await output.WriteAsync(answer, cancellationToken);
                await output.FlushAsync(cancellationToken);
            }
        }
    }

    /// <summary>An agent that cannot be killed and whose end never comes: its kill does nothing and its exit never completes.</summary>
    private sealed class StuckTransport(IAgentTransport inner) : IAgentTransport
    {
        private readonly TaskCompletionSource<AgentExit> _never = new();

        public static Func<IAgentTransport> Wrap(BridgeOptions o) => () => new StuckTransport(o.TransportFactory!());

        public Stream Output => inner.Output;

        public Stream Input => inner.Input;

        public int? ProcessId => null;

        public string Description => "an unkillable in-process agent";

        public string StderrTail => string.Empty;

        public Task<AgentExit> Exited => _never.Task;

        public Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider) => _never.Task;

        public void Kill()
        {
        }

        public Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class NeverDisposed : HostTool, IAsyncDisposable
    {
        public override string Name => "never.disposed";

        public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

        public override ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken) => ValueTask.FromResult(default(JsonElement));

        public ValueTask DisposeAsync() => new(new TaskCompletionSource().Task);
    }
}
