using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>One whole storm (or echo run) per iteration; the per-operation numbers come from OperationsPerInvoke.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    public ThroughputConfig() => AddJob(Job.Default
        .WithStrategy(RunStrategy.Monitoring)
        .WithInvocationCount(1)
        .WithUnrollFactor(1)
        .WithWarmupCount(3)
        .WithIterationCount(20)
        .AsMutator());
}
