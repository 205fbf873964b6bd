using System.Text.Json;

namespace ContainmentLab.Cli.Bench;

/// <summary>
/// Reads BenchmarkDotNet's full JSON export (<c>JsonExporter.Full</c>, <c>*-report-full.json</c>): a file, or every
/// such file in a directory (a run of several benchmark classes writes one per class).
/// </summary>
internal static class BenchmarkResults
{
    public static IReadOnlyList<BenchmarkResult> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            var files = Directory.GetFiles(path, "*-report-full.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            return files.Count == 0
                ? throw new BenchResultsException($"{path}: no *-report-full.json in this directory")
                : [.. files.SelectMany(LoadFile)];
        }

        return File.Exists(path) ? LoadFile(path) : throw new BenchResultsException($"{path}: no such file");
    }

    private static IReadOnlyList<BenchmarkResult> LoadFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var document = JsonDocument.Parse(stream);
            if (!document.RootElement.TryGetProperty("Benchmarks", out var benchmarks) || benchmarks.ValueKind != JsonValueKind.Array)
            {
                throw new BenchResultsException($"{path}: not a BenchmarkDotNet full JSON export (no \"Benchmarks\" array)");
            }

            var results = new List<BenchmarkResult>();
            foreach (var benchmark in benchmarks.EnumerateArray())
            {
                var name = Name(benchmark) ?? throw new BenchResultsException($"{path}: a benchmark without FullName or Type/Method");
                var values = Values(benchmark);
                if (values.Count > 0)
                {
                    results.Add(new BenchmarkResult(name, values));
                }
            }

            return results;
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            throw new BenchResultsException($"{path}: cannot read BenchmarkDotNet results: {ex.Message}", ex);
        }
    }

    private static string? Name(JsonElement benchmark)
    {
        if (String(benchmark, "FullName") is { Length: > 0 } fullName)
        {
            return fullName;
        }

        return String(benchmark, "Type") is { } type && String(benchmark, "Method") is { } method
            ? $"{String(benchmark, "Namespace")}.{type}.{method}{(String(benchmark, "Parameters") is { Length: > 0 } p ? $"({p})" : "")}".TrimStart('.')
            : null;
    }

    /// <summary>
    /// The measured values, per operation: the statistics' own sample when there is one, else the workload result
    /// measurements. A benchmark that failed has neither and is left out (it shows as missing in the comparison).
    /// </summary>
    private static List<double> Values(JsonElement benchmark)
    {
        if (benchmark.TryGetProperty("Statistics", out var statistics) && statistics.ValueKind == JsonValueKind.Object
            && statistics.TryGetProperty("OriginalValues", out var original) && original.ValueKind == JsonValueKind.Array
            && original.GetArrayLength() > 0)
        {
            return [.. original.EnumerateArray().Select(v => v.GetDouble())];
        }

        if (benchmark.TryGetProperty("Measurements", out var measurements) && measurements.ValueKind == JsonValueKind.Array)
        {
            return [.. measurements.EnumerateArray()
                .Where(m => String(m, "IterationMode") == "Workload" && String(m, "IterationStage") == "Result")
                .Select(m => m.GetProperty("Nanoseconds").GetDouble() / Math.Max(1, m.GetProperty("Operations").GetInt64()))];
        }

        return [];
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
