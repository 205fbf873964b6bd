using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>
/// One Stop per iteration, every iteration kept: a stop needs a running turn set up before it (an interrupted session
/// is never reused), and the targets are on the median and the p99, so no outlier may be dropped. A mutator: it
/// applies on top of whatever job the command line picks (<c>--job short</c>, <c>--job dry</c>).
/// </summary>
public sealed class SingleShotConfig : ManualConfig
{
    public const int Iterations = 200;

    public SingleShotConfig() => AddJob(Job.Default
        .WithStrategy(RunStrategy.Monitoring)
        .WithInvocationCount(1)
        .WithUnrollFactor(1)
        .WithWarmupCount(10)
        .WithIterationCount(Iterations)
        .AsMutator());
}
