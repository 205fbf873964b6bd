using BenchmarkDotNet.Attributes;
using ContainmentLab.Benchmarks.Support;
using ContainmentLab.Bridge;

namespace ContainmentLab.Benchmarks;

/// <summary>
/// Tool calls dispatched end to end per second in a storm (2,000 calls, 8 in flight, over real stdio), against raw
/// NDJSON echo throughput over the same pipes with the same window. Times and allocations are per tool call (per
/// line for the echo); allocations are the bridge's only, the agent being another process.
/// </summary>
[Config(typeof(ThroughputConfig))]
public class ThroughputBenchmarks
{
    private EchoAgent? _echo;
    private AgentHarness? _harness;
    private string _session = null!;

    [GlobalSetup(Target = nameof(Echo_Pipelined))]
    public void SetupEcho() => _echo = EchoAgent.Start();

    [GlobalSetup(Target = nameof(Storm_EndToEnd))]
    public void SetupStorm()
    {
        _harness = AgentHarness.StartAsync(Scripts.FiniteStorm, childProcess: true).GetAwaiter().GetResult();
        _session = _harness.Bridge.NewSessionAsync().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Scripts.ThroughputStormCount)]
    public Task Echo_Pipelined() => _echo!.PipelineAsync(EchoAgent.ToolCallLine, Scripts.ThroughputStormCount, Scripts.StormConcurrency);

    /// <summary>One prompt whose storm runs to the end: every call dispatched, run, answered.</summary>
    [Benchmark(OperationsPerInvoke = Scripts.ThroughputStormCount)]
    public async Task<TurnOutcome> Storm_EndToEnd()
    {
        var outcome = await _harness!.Bridge.PromptAsync(_session, "go").ConfigureAwait(false);
        return outcome.End == TurnEnd.Completed ? outcome : throw new InvalidOperationException($"the storm did not complete: {outcome}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _echo?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _harness?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
