using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ContainmentLab.Benchmarks.Columns;

/// <summary>
/// A quantile of the measured iterations (BenchmarkDotNet's own percentile columns stop at P95), and optionally its
/// ratio to the same quantile of the class's baseline (the floor): the targets are written as such ratios.
/// </summary>
internal sealed class QuantileColumn(string name, double quantile, bool ratioToBaseline) : IColumn
{
    public static readonly IColumn P99 = new QuantileColumn("P99", 0.99, ratioToBaseline: false);
    public static readonly IColumn MedianRatio = new QuantileColumn("Median/floor", 0.5, ratioToBaseline: true);
    public static readonly IColumn P99Ratio = new QuantileColumn("P99/floor", 0.99, ratioToBaseline: true);

    public string Id => $"{nameof(QuantileColumn)}.{name}";

    public string ColumnName => name;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Statistics;

    public int PriorityInCategory => ratioToBaseline ? 100 : 50;

    public bool IsNumeric => true;

    public UnitType UnitType => ratioToBaseline ? UnitType.Dimensionless : UnitType.Time;

    public string Legend => ratioToBaseline
        ? $"{name}: the case's {Describe()} over its class's baseline's {Describe()} (the floor), measured in the same run"
        : $"{name}: {Describe()} of the measured iterations (per operation)";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(benchmarkCase);
        ArgumentNullException.ThrowIfNull(style);
        if (CaseKeys.Times(summary, benchmarkCase) is not { } times)
        {
            return "NA";
        }

        var value = CaseKeys.Quantile(times, quantile);
        if (!ratioToBaseline)
        {
            return (value / 1000.0).ToString("N2", CultureInfo.InvariantCulture) + " μs";
        }

        if (CaseKeys.Baseline(summary, benchmarkCase) is not { } baseline || CaseKeys.Times(summary, baseline) is not { } floor)
        {
            return "?";
        }

        return (value / CaseKeys.Quantile(floor, quantile)).ToString("0.00", CultureInfo.InvariantCulture);
    }

    public override string ToString() => ColumnName;

    private string Describe() => quantile == 0.5 ? "median" : $"p{quantile * 100:0}";
}
