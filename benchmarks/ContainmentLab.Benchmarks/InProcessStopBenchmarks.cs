using BenchmarkDotNet.Attributes;
using ContainmentLab.Benchmarks.Support;
using ContainmentLab.Bridge;

namespace ContainmentLab.Benchmarks;

/// <summary>Interrupt → ack with no process: the bridge and the fake agent's engine over in-memory pipes, real clock.</summary>
[Config(typeof(SingleShotConfig))]
public class InProcessStopBenchmarks
{
    private AgentHarness _harness = null!;
    private StopChecks _checks = null!;
    private string _session = null!;
    private Task<TurnOutcome> _turn = null!;

    [GlobalSetup(Target = nameof(Interrupt_IdleTurn))]
    public void SetupIdle() => Setup(Scripts.IdleTurn, nameof(Interrupt_IdleTurn));

    [GlobalSetup(Target = nameof(Interrupt_Storm))]
    public void SetupStorm() => Setup(Scripts.EndlessStorm, nameof(Interrupt_Storm));

    [IterationSetup(Target = nameof(Interrupt_IdleTurn))]
    public void StartIdleTurn() => (_session, _turn) = _harness.StartRunningTurnAsync(completed: true).GetAwaiter().GetResult();

    [IterationSetup(Target = nameof(Interrupt_Storm))]
    public void StartStorm() => (_session, _turn) = _harness.StartRunningTurnAsync(dispatches: 32).GetAwaiter().GetResult();

    /// <summary>Interrupt, then the turn's task completes with the agent's <c>cancelled</c>.</summary>
    [Benchmark]
    public Task<TurnOutcome> Interrupt_IdleTurn()
    {
        _harness.Bridge.Interrupt(_session);
        return _turn;
    }

    /// <summary>The same while the agent pipelines tool calls at full speed.</summary>
    [Benchmark]
    public Task<TurnOutcome> Interrupt_Storm()
    {
        _harness.Bridge.Interrupt(_session);
        return _turn;
    }

    [IterationCleanup]
    public void Check() => _checks.Check(_harness.Bridge, [_session], [AgentHarness.Bounded(_turn).GetAwaiter().GetResult()]);

    [GlobalCleanup]
    public void Cleanup()
    {
        _checks.Publish();
        _harness.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private void Setup(string yaml, string method)
    {
        _harness = AgentHarness.StartAsync(yaml, childProcess: false).GetAwaiter().GetResult();
        _checks = new StopChecks(BenchMetrics.Key(nameof(InProcessStopBenchmarks), method));
    }
}
