using System.CommandLine;
using System.Globalization;
using ContainmentLab.Cli.Bench;

namespace ContainmentLab.Cli;

/// <summary>
/// <c>containmentlab bench compare BASE.json HEAD.json [--threshold 10%]</c>: two BenchmarkDotNet full JSON exports (two
/// builds), benchmark by benchmark. Exit 1 when one got slower beyond the threshold with significance, 2 when an input
/// cannot be read, 0 otherwise.
/// </summary>
internal static class BenchCompareCommand
{
    public const int ExitOk = 0;
    public const int ExitRegressed = 1;
    public const int ExitUnreadable = 2;

    public static Command Create()
    {
        var baseFile = new Argument<string>("BASE") { Description = "The base build's results: a *-report-full.json, or a directory of them" };
        var headFile = new Argument<string>("HEAD") { Description = "The head build's results, the same way" };
        var threshold = new Option<string>("--threshold") { Description = "How much slower (median) counts as a regression: 10%, or 0.1", DefaultValueFactory = _ => "10%" };
        var compare = new Command("compare", "Compare two BenchmarkDotNet runs; exit 1 if a benchmark got significantly slower beyond the threshold") { baseFile, headFile, threshold };
        compare.SetAction(parse => Run(parse.GetValue(baseFile)!, parse.GetValue(headFile)!, parse.GetValue(threshold)!, Console.Out, Console.Error));
        return new Command("bench", "Benchmark results") { compare };
    }

    internal static int Run(string basePath, string headPath, string thresholdText, TextWriter output, TextWriter error)
    {
        if (!TryParseThreshold(thresholdText, out var threshold))
        {
            error.WriteLine($"bench compare: --threshold '{thresholdText}' is not a percentage (10%) or a fraction (0.1)");
            return ExitUnreadable;
        }

        IReadOnlyList<BenchmarkResult> before, after;
        try
        {
            before = BenchmarkResults.Load(basePath);
            after = BenchmarkResults.Load(headPath);
        }
        catch (BenchResultsException ex)
        {
            error.WriteLine($"bench compare: {ex.Message}");
            return ExitUnreadable;
        }

        var rows = BenchComparison.Compare(before, after, threshold);
        Write(rows, threshold, output);
        return rows.Any(r => r.Verdict == BenchVerdict.Regressed) ? ExitRegressed : ExitOk;
    }

    internal static bool TryParseThreshold(string text, out double threshold)
    {
        var inv = CultureInfo.InvariantCulture;
        var trimmed = text.Trim();
        var percent = trimmed.EndsWith('%');
        if (double.TryParse(percent ? trimmed[..^1] : trimmed, NumberStyles.Float, inv, out var value) && value >= 0 && double.IsFinite(value))
        {
            threshold = percent || value > 1 ? value / 100 : value;
            return true;
        }

        threshold = 0;
        return false;
    }

    private static void Write(IReadOnlyList<BenchComparisonRow> rows, double threshold, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        string[] header = ["benchmark", "base median", "head median", "ratio", "p (Mann-Whitney)", "significant", "verdict"];
        var cells = rows.Select(r => new[]
        {
            r.Name,
            Time(r.BaseMedian),
            Time(r.HeadMedian),
            r.Ratio is { } ratio ? ratio.ToString("0.000", inv) : "-",
            r.PValue is { } p ? p.ToString("0.0000", inv) : "-",
            r.PValue is null ? "-" : r.Significant ? "yes" : "no",
            Verdict(r.Verdict),
        }).ToList();
        var widths = header.Select((h, i) => cells.Select(c => c[i].Length).Append(h.Length).Max()).ToArray();
        output.WriteLine(Line(header, widths));
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in cells)
        {
            output.WriteLine(Line(row, widths));
        }

        var regressed = rows.Count(r => r.Verdict == BenchVerdict.Regressed);
        output.WriteLine(string.Create(inv, $"{rows.Count} benchmark(s) compared; {regressed} slower by more than {threshold:0.##%} with significance (alpha {BenchComparison.Alpha})"));
    }

    private static string Line(string[] row, int[] widths) =>
        string.Join("  ", row.Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))).TrimEnd();

    private static string Verdict(BenchVerdict verdict) => verdict switch
    {
        BenchVerdict.Regressed => "REGRESSED",
        BenchVerdict.Slower => "slower (within threshold)",
        BenchVerdict.Faster => "faster",
        BenchVerdict.OnlyInBase => "only in base",
        BenchVerdict.OnlyInHead => "only in head",
        _ => "same",
    };

    private static string Time(double? nanoseconds) => nanoseconds switch
    {
        null => "-",
        < 1_000 => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds:0.00} ns"),
        < 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1_000:0.00} μs"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1_000_000:0.00} ms"),
    };
}
