using System.IO.Pipelines;
using ContainmentLab.FakeAgent;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>An in-process fake agent on fake time, wired to an <see cref="AcpTestClient"/> through two pipes.</summary>
internal sealed class FakeAgentHarness : IAsyncDisposable
{
    private readonly Pipe _toAgent = new();
    private readonly Pipe _fromAgent = new();
    private readonly Stream _agentOutput;
    private readonly Task _run;
    private readonly CancellationTokenSource _stop = new();

    private FakeAgentHarness(FakeAgentScript script, TimeProvider? engineTime, AgentHooks? hooks = null)
    {
        Script = script;
        _agentOutput = _fromAgent.Writer.AsStream();
        Engine = new FakeAgentEngine(script, _toAgent.Reader.AsStream(), _agentOutput, engineTime ?? Time, Log, hooks);
        Client = new AcpTestClient(_toAgent.Writer.AsStream(), _fromAgent.Reader.AsStream());
        Client.Start();
        _run = RunEngineAsync();
    }

    public FakeAgentScript Script { get; }

    public TimerCountingTimeProvider Time { get; } = new();

    public StringWriter Log { get; } = new();

    public FakeAgentEngine Engine { get; }

    public AcpTestClient Client { get; }

    /// <summary>The absolute cwd the sessions are created in (never touched: the client fakes the file system).</summary>
    public static string Cwd { get; } = Path.Combine(Path.GetTempPath(), "fake-agent-tests");

    /// <summary>Completes when the engine's RunAsync returned.</summary>
    public Task Run => _run;

    public static FakeAgentHarness Start(string yaml) => new(FakeAgentScript.Parse(yaml, "test.yaml"), null);

    /// <summary>An engine that keeps its own account in <paramref name="account"/> (the in-process default hooks otherwise).</summary>
    public static FakeAgentHarness Start(string yaml, AgentAccount account) => new(FakeAgentScript.Parse(yaml, "test.yaml"), null, new AgentHooks { Account = account });

    /// <summary>
    /// An engine on the real clock, as in the child process: real delays complete their awaiters inline on cancellation,
    /// which fake-time delays never do. Only for steps that wait for ever (no test waits on real time).
    /// </summary>
    public static FakeAgentHarness StartOnSystemTime(string yaml) => new(FakeAgentScript.Parse(yaml, "test.yaml"), TimeProvider.System);

    /// <summary>Cancels the engine's RunAsync: for agents that read nothing any more, so closing their input ends nothing.</summary>
    public void Stop() => _stop.Cancel();

    /// <summary>initialize + session/new; returns the session id.</summary>
    public async Task<string> OpenSessionAsync(CancellationToken cancellationToken)
    {
        await Client.InitializeAsync(cancellationToken);
        return await Client.NewSessionAsync(Cwd, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // Close the agent's input, which ends RunAsync; cancel only as a fallback so a broken test cannot hang.
        await Client.CloseInputAsync();
        if (!_run.IsCompleted)
        {
            _stop.CancelAfter(TimeSpan.FromSeconds(10));
        }

        await _run;
        await Client.DisposeAsync();
        await _toAgent.Reader.CompleteAsync();
        await _fromAgent.Reader.CompleteAsync();
        _stop.Dispose();
        await Log.DisposeAsync();
    }

    private async Task RunEngineAsync()
    {
        await Task.Yield();
        try
        {
            await Engine.RunAsync(_stop.Token);
        }
        finally
        {
            await _agentOutput.DisposeAsync();
        }
    }
}
