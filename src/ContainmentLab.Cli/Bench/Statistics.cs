namespace ContainmentLab.Cli.Bench;

/// <summary>The few statistics the comparison needs.</summary>
internal static class Statistics
{
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>
    /// Two-sided p-value of the Mann-Whitney U test (are the two samples drawn from the same distribution?). Exact (the
    /// distribution of U over every arrangement) for small samples without ties, where the normal approximation is too
    /// coarse (3 vs 3 iterations of a short job); otherwise the normal approximation with tie and continuity corrections.
    /// </summary>
    public static double MannWhitneyPValue(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int n1 = x.Count, n2 = y.Count;
        if (n1 == 0 || n2 == 0)
        {
            return 1;
        }

        // Ranks of the pooled sample, ties sharing their mean rank.
        var pooled = x.Select(v => (Value: v, First: true)).Concat(y.Select(v => (Value: v, First: false))).OrderBy(p => p.Value).ToArray();
        var ranks = new double[pooled.Length];
        double tieTerm = 0;
        var hasTies = false;
        for (var i = 0; i < pooled.Length;)
        {
            var j = i;
            while (j + 1 < pooled.Length && pooled[j + 1].Value == pooled[i].Value)
            {
                j++;
            }

            var t = j - i + 1;
            if (t > 1)
            {
                hasTies = true;
                tieTerm += ((double)t * t * t) - t;
            }

            for (var k = i; k <= j; k++)
            {
                ranks[k] = (i + j + 2) / 2.0;
            }

            i = j + 1;
        }

        var rankSum = pooled.Select((p, i) => p.First ? ranks[i] : 0).Sum();
        var u = rankSum - (n1 * (n1 + 1) / 2.0);
        var uMin = Math.Min(u, ((double)n1 * n2) - u);

        if (!hasTies && n1 + n2 <= 60)
        {
            return Math.Min(1, 2 * ExactLowerTail((int)Math.Round(uMin), n1, n2));
        }

        var n = n1 + n2;
        var mean = n1 * n2 / 2.0;
        var variance = n1 * n2 / 12.0 * (n + 1 - (tieTerm / ((double)n * (n - 1))));
        if (variance <= 0)
        {
            return 1;
        }

        var z = (Math.Abs(u - mean) - 0.5) / Math.Sqrt(variance);
        return Math.Min(1, 2 * NormalUpperTail(Math.Max(0, z)));
    }

    /// <summary>P(U ≤ u) under the null hypothesis: counts of arrangements by U, by the usual recurrence.</summary>
    private static double ExactLowerTail(int u, int n1, int n2)
    {
        // count[i, j][k]: arrangements of i and j values with U = k, built up as f(i, j) = f(i - 1, j) shifted by j + f(i, j - 1).
        var table = new double[n1 + 1, n2 + 1][];
        for (var i = 0; i <= n1; i++)
        {
            for (var j = 0; j <= n2; j++)
            {
                var counts = new double[(i * j) + 1];
                if (i == 0 || j == 0)
                {
                    counts[0] = 1;
                }
                else
                {
                    var withoutX = table[i - 1, j];
                    var withoutY = table[i, j - 1];
                    for (var k = 0; k < withoutX.Length; k++)
                    {
                        counts[k + j] += withoutX[k];
                    }

                    for (var k = 0; k < withoutY.Length; k++)
                    {
                        counts[k] += withoutY[k];
                    }
                }

                table[i, j] = counts;
            }
        }

        var all = table[n1, n2];
        return all.Take(u + 1).Sum() / all.Sum();
    }

    /// <summary>1 − Φ(z), from the complementary error function (Abramowitz and Stegun 7.1.26, error below 1.5e-7).</summary>
    private static double NormalUpperTail(double z)
    {
        var x = z / Math.Sqrt(2);
        var t = 1 / (1 + (0.3275911 * x));
        var erfc = t * (0.254829592 + (t * (-0.284496736 + (t * (1.421413741 + (t * (-1.453152027 + (t * 1.061405429))))))))
            * Math.Exp(-x * x);
        return erfc / 2;
    }
}
