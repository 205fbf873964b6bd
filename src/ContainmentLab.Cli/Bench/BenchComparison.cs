namespace ContainmentLab.Cli.Bench;

/// <summary>How one benchmark moved between two runs.</summary>
internal enum BenchVerdict
{
    Same,
    Faster,
    Slower,

    /// <summary>Slower beyond the threshold, and significantly: the build regressed.</summary>
    Regressed,
    OnlyInBase,
    OnlyInHead,
}

internal sealed record BenchComparisonRow(string Name, double? BaseMedian, double? HeadMedian, double? Ratio, double? PValue, bool Significant, BenchVerdict Verdict);

/// <summary>
/// Compares two BenchmarkDotNet runs benchmark by benchmark: the ratio of medians, and a Mann-Whitney U test on the
/// measurements. A benchmark regressed when its head median is above base × (1 + threshold) and the difference is
/// significant at <see cref="Alpha"/>: a slower median from noise alone, or a significant change below the threshold,
/// does not fail the build.
/// </summary>
internal static class BenchComparison
{
    public const double Alpha = 0.05;

    public static IReadOnlyList<BenchComparisonRow> Compare(IReadOnlyList<BenchmarkResult> baseResults, IReadOnlyList<BenchmarkResult> headResults, double threshold)
    {
        ArgumentNullException.ThrowIfNull(baseResults);
        ArgumentNullException.ThrowIfNull(headResults);
        var head = headResults.GroupBy(r => r.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        var rows = new List<BenchComparisonRow>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var before in baseResults)
        {
            if (!seen.Add(before.Name))
            {
                continue;
            }

            if (!head.TryGetValue(before.Name, out var after))
            {
                rows.Add(new BenchComparisonRow(before.Name, before.Median, null, null, null, false, BenchVerdict.OnlyInBase));
                continue;
            }

            var ratio = after.Median / before.Median;
            var p = Statistics.MannWhitneyPValue(before.Nanoseconds, after.Nanoseconds);
            var significant = p < Alpha;
            var verdict = !significant ? BenchVerdict.Same
                : ratio > 1 + threshold ? BenchVerdict.Regressed
                : ratio > 1 ? BenchVerdict.Slower
                : ratio < 1 ? BenchVerdict.Faster
                : BenchVerdict.Same;
            rows.Add(new BenchComparisonRow(before.Name, before.Median, after.Median, ratio, p, significant, verdict));
        }

        rows.AddRange(head.Values.Where(r => !seen.Contains(r.Name))
            .Select(r => new BenchComparisonRow(r.Name, null, r.Median, null, null, false, BenchVerdict.OnlyInHead)));
        return rows;
    }
}
