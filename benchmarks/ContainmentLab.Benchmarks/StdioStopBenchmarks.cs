using BenchmarkDotNet.Attributes;
using ContainmentLab.Benchmarks.Support;
using ContainmentLab.Bridge;

namespace ContainmentLab.Benchmarks;

/// <summary>
/// Interrupt → ack over real stdio, the fake agent a child process started in [GlobalSetup], beside the physical floor
/// (one line's round trip through the same executable over the same kind of pipes) measured in the same run. Each
/// iteration is one Stop of a freshly started turn; the ratio columns compare with the floor's median and p99.
/// </summary>
[Config(typeof(SingleShotConfig))]
public class StdioStopBenchmarks
{
    private EchoAgent? _echo;
    private AgentHarness? _harness;
    private StopChecks _checks = null!;
    private string _session = null!;
    private Task<TurnOutcome> _turn = null!;

    [GlobalSetup(Target = nameof(Floor_EchoRoundTrip))]
    public void SetupEcho() => _echo = EchoAgent.Start();

    [GlobalSetup(Target = nameof(Interrupt_IdleTurn))]
    public void SetupIdle() => Setup(Scripts.IdleTurn, nameof(Interrupt_IdleTurn));

    [GlobalSetup(Target = nameof(Interrupt_Storm))]
    public void SetupStorm() => Setup(Scripts.EndlessStorm, nameof(Interrupt_Storm));

    [IterationSetup(Target = nameof(Interrupt_IdleTurn))]
    public void StartIdleTurn() => (_session, _turn) = _harness!.StartRunningTurnAsync(completed: true).GetAwaiter().GetResult();

    [IterationSetup(Target = nameof(Interrupt_Storm))]
    public void StartStorm() => (_session, _turn) = _harness!.StartRunningTurnAsync(dispatches: 32).GetAwaiter().GetResult();

    /// <summary>The floor: one NDJSON line (a <c>session/cancel</c>) to the echoing child and back.</summary>
    [Benchmark(Baseline = true)]
    public Task Floor_EchoRoundTrip() => _echo!.RoundTripAsync(EchoAgent.CancelLine);

    /// <summary>A turn is running (its tool call is done, the agent sleeps): Interrupt, until the turn's task completes cancelled.</summary>
    [Benchmark]
    public Task<TurnOutcome> Interrupt_IdleTurn()
    {
        _harness!.Bridge.Interrupt(_session);
        return _turn;
    }

    /// <summary>The same while the agent pipelines tool calls at full speed (8 in flight) when Stop comes.</summary>
    [Benchmark]
    public Task<TurnOutcome> Interrupt_Storm()
    {
        _harness!.Bridge.Interrupt(_session);
        return _turn;
    }

    [IterationCleanup(Targets = [nameof(Interrupt_IdleTurn), nameof(Interrupt_Storm)])]
    public void Check() => _checks.Check(_harness!.Bridge, [_session], [AgentHarness.Bounded(_turn).GetAwaiter().GetResult()]);

    [GlobalCleanup]
    public void Cleanup()
    {
        _checks?.Publish();
        _echo?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _harness?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private void Setup(string yaml, string method)
    {
        _harness = AgentHarness.StartAsync(yaml, childProcess: true).GetAwaiter().GetResult();
        _checks = new StopChecks(BenchMetrics.Key(nameof(StdioStopBenchmarks), method));
    }
}
