using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using ContainmentLab.Benchmarks.Support;

namespace ContainmentLab.Benchmarks.Columns;

/// <summary>What the columns need from a benchmark case: its metrics key and its per-operation times.</summary>
internal static class CaseKeys
{
    public static string Key(BenchmarkCase benchmarkCase) => BenchMetrics.Key(
        benchmarkCase.Descriptor.Type.Name,
        benchmarkCase.Descriptor.WorkloadMethod.Name,
        string.Join(",", benchmarkCase.Parameters.Items.Select(p => $"{p.Name}={p.Value}")));

    /// <summary>Nanoseconds per operation of every measured iteration, sorted.</summary>
    public static double[]? Times(Summary summary, BenchmarkCase benchmarkCase)
    {
        var report = summary[benchmarkCase];
        if (report is null)
        {
            return null;
        }

        var times = report.AllMeasurements
            .Where(m => m.IterationMode == IterationMode.Workload && m.IterationStage == IterationStage.Result)
            .Select(m => m.Nanoseconds / m.Operations)
            .Order()
            .ToArray();
        return times.Length == 0 ? null : times;
    }

    /// <summary>The q-quantile by linear interpolation between closest ranks (q in [0, 1]).</summary>
    public static double Quantile(double[] sorted, double q)
    {
        var position = (sorted.Length - 1) * q;
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + ((sorted[upper] - sorted[lower]) * (position - lower));
    }

    /// <summary>The baseline of the case's class (the floor), if the class has one.</summary>
    public static BenchmarkCase? Baseline(Summary summary, BenchmarkCase benchmarkCase) =>
        summary.BenchmarksCases.FirstOrDefault(c => c.Descriptor.Type == benchmarkCase.Descriptor.Type && c.Descriptor.Baseline);
}
