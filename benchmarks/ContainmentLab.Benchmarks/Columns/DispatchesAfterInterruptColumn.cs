using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using ContainmentLab.Benchmarks.Support;

namespace ContainmentLab.Benchmarks.Columns;

/// <summary>G1 read off the bridge's audit log in every iteration: dispatches of an interrupted session after its interrupt record (must be 0).</summary>
internal sealed class DispatchesAfterInterruptColumn : IColumn
{
    public static readonly IColumn Instance = new DispatchesAfterInterruptColumn();

    public string Id => nameof(DispatchesAfterInterruptColumn);

    public string ColumnName => "Dispatched after stop";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Dispatched after stop: dispatched audit records after their session's interrupted record, summed over every iteration / iterations checked (- where nothing is interrupted)";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        ArgumentNullException.ThrowIfNull(benchmarkCase);
        var key = CaseKeys.Key(benchmarkCase);
        return BenchMetrics.Read(key, BenchMetrics.DispatchesAfterInterrupt) is { } count
            ? $"{BenchMetrics.Format(count)} / {BenchMetrics.Format(BenchMetrics.Read(key, BenchMetrics.InterruptedIterations) ?? 0)}"
            : "-";
    }

    public override string ToString() => ColumnName;
}
