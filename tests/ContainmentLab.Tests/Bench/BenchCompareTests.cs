using ContainmentLab.Cli;
using ContainmentLab.Cli.Bench;

namespace ContainmentLab.Tests.Bench;

/// <summary>
/// <c>bench compare</c> on recorded BenchmarkDotNet full JSON exports: a real run of StdioStopBenchmarks trimmed to 40
/// iterations (base), the same with ±3% noise (unchanged), and with Interrupt_IdleTurn 30% slower (regressed).
/// </summary>
[TestFixture]
[Category("Bench")]
public sealed class BenchCompareTests
{
    private static string Asset(string name) => Path.Combine(AppContext.BaseDirectory, "Bench", "assets", name);

    private static (int Exit, string Output, string Error) Run(string basePath, string headPath, string threshold = "10%")
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = BenchCompareCommand.Run(basePath, headPath, threshold, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public void Compare_SyntheticThirtyPercentRegression_ExitsOneAndNamesIt()
    {
        var (exit, output, _) = Run(Asset("base-report-full.json"), Asset("regressed-30pct-report-full.json"));

        Assert.That(exit, Is.EqualTo(BenchCompareCommand.ExitRegressed));
        var line = output.Split('\n').Single(l => l.Contains("Interrupt_IdleTurn", StringComparison.Ordinal));
        Assert.That(line, Does.Contain("1.300").And.Contain("yes").And.Contain("REGRESSED"));
        Assert.That(output.Split('\n').Where(l => l.Contains("Floor_EchoRoundTrip", StringComparison.Ordinal)), Has.All.Contain("same"));
    }

    [Test]
    public void Compare_UnchangedPair_ExitsZero()
    {
        var (exit, output, _) = Run(Asset("base-report-full.json"), Asset("unchanged-report-full.json"));

        Assert.That(exit, Is.EqualTo(BenchCompareCommand.ExitOk));
        Assert.That(output, Does.Not.Contain("REGRESSED"));
        Assert.That(output, Does.Contain("3 benchmark(s) compared; 0 slower"));
    }

    [Test]
    public void Compare_RegressionBelowThreshold_ExitsZero()
    {
        // Significant, but 30% is within a 50% threshold.
        var (exit, output, _) = Run(Asset("base-report-full.json"), Asset("regressed-30pct-report-full.json"), "50%");

        Assert.That(exit, Is.EqualTo(BenchCompareCommand.ExitOk));
        Assert.That(output, Does.Contain("slower (within threshold)"));
    }

    [Test]
    public void Compare_FasterHead_ExitsZero()
    {
        var (exit, output, _) = Run(Asset("regressed-30pct-report-full.json"), Asset("base-report-full.json"));

        Assert.That(exit, Is.EqualTo(BenchCompareCommand.ExitOk));
        Assert.That(output, Does.Contain("faster"));
    }

    [Test]
    public void Compare_DirectoryOfExports_ReadsEveryFile()
    {
        var directory = Directory.CreateTempSubdirectory("cl-bench-").FullName;
        try
        {
            File.Copy(Asset("base-report-full.json"), Path.Combine(directory, "x-report-full.json"));

            var (exit, _, _) = Run(directory, Asset("regressed-30pct-report-full.json"));

            Assert.That(exit, Is.EqualTo(BenchCompareCommand.ExitRegressed));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestCase("missing")]
    [TestCase("not-json")]
    [TestCase("not-benchmarkdotnet")]
    public void Compare_UnreadableInput_ExitsTwo(string kind)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cl-bench-{Guid.NewGuid():N}.json");
        if (kind == "not-json")
        {
            File.WriteAllText(path, "{ this is not json");
        }
        else if (kind == "not-benchmarkdotnet")
        {
            File.WriteAllText(path, """{"Title": "x"}""");
        }

        try
        {
            var (exit, _, error) = Run(Asset("base-report-full.json"), path);

            Assert.That(exit, Is.EqualTo(BenchCompareCommand.ExitUnreadable));
            Assert.That(error, Does.Contain(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCase("10%", 0.10)]
    [TestCase("0.1", 0.10)]
    [TestCase("25", 0.25)]
    public void TryParseThreshold_AcceptsPercentAndFraction(string text, double expected)
    {
        Assert.That(BenchCompareCommand.TryParseThreshold(text, out var threshold), Is.True);
        Assert.That(threshold, Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void MannWhitney_SmallSamples_UsesTheExactDistribution()
    {
        // 3 vs 3, completely separated: the exact two-sided p is 2/20 = 0.1 (a short job cannot show significance).
        Assert.That(Statistics.MannWhitneyPValue([1, 2, 3], [4, 5, 6]), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(Statistics.MannWhitneyPValue([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), Is.EqualTo(2.0 / 252).Within(1e-12));
    }

    [Test]
    public void MannWhitney_IdenticalSamples_IsNotSignificant()
    {
        double[] values = [5, 5, 5, 6, 6, 7, 8, 9, 9, 9];

        Assert.That(Statistics.MannWhitneyPValue(values, values), Is.GreaterThan(0.9));
    }
}
