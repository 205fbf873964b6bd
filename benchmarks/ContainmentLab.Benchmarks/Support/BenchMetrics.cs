using System.Globalization;
using System.Text.Json;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>
/// Per-benchmark counts the benchmark process measures (dispatches after interrupt) handed to the host process,
/// which draws the summary table: BenchmarkDotNet runs each benchmark in its own process, so they go through a file.
/// </summary>
internal static class BenchMetrics
{
    public const string DispatchesAfterInterrupt = "dispatchesAfterInterrupt";
    public const string InterruptedIterations = "interruptedIterations";

    private static readonly string s_directory = Path.Combine(Path.GetTempPath(), "containmentlab-bench-metrics");

    /// <summary>The key both processes compute: type, method and parameter values.</summary>
    public static string Key(string type, string method, string parameters = "") =>
        parameters.Length == 0 ? $"{type}.{method}" : $"{type}.{method}({parameters})";

    /// <summary>Called by the host before a run: counts of an earlier run must not show up in this one.</summary>
    public static void Clear()
    {
        if (Directory.Exists(s_directory))
        {
            Directory.Delete(s_directory, recursive: true);
        }
    }

    public static void Write(string key, IReadOnlyDictionary<string, long> values)
    {
        Directory.CreateDirectory(s_directory);
        File.WriteAllText(PathOf(key), JsonSerializer.Serialize(values));
    }

    public static long? Read(string key, string name)
    {
        var path = PathOf(key);
        if (!File.Exists(path))
        {
            return null;
        }

        var values = JsonSerializer.Deserialize<Dictionary<string, long>>(File.ReadAllText(path));
        return values is not null && values.TryGetValue(name, out var value) ? value : null;
    }

    private static string PathOf(string key)
    {
        var safe = string.Concat(key.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' or '=' ? c : '_'));
        return Path.Combine(s_directory, safe + ".json");
    }

    public static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
