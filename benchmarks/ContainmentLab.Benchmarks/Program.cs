using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Running;
using ContainmentLab.Benchmarks;
using ContainmentLab.Benchmarks.Columns;
using ContainmentLab.Benchmarks.Support;

// dotnet run -c Release --project benchmarks/ContainmentLab.Benchmarks -- --filter '*' --job short
// dotnet run -c Release --project benchmarks/ContainmentLab.Benchmarks -- profile [--in-process] [--prompts N] [--alloc-types] [--audit-file]
if (args is ["profile", ..])
{
    return await ProfileLoop.RunAsync(args[1..]).ConfigureAwait(false);
}

BenchMetrics.Clear();
var config = DefaultConfig.Instance
    .AddDiagnoser(MemoryDiagnoser.Default)
    .AddExporter(JsonExporter.Full, MarkdownExporter.GitHub)
    .AddColumn(QuantileColumn.P99, QuantileColumn.MedianRatio, QuantileColumn.P99Ratio, DispatchesAfterInterruptColumn.Instance);
var summaries = BenchmarkSwitcher.FromAssembly(typeof(GateBenchmarks).Assembly).Run(args, config);

// A benchmark that threw (a turn not acked, a hang) must fail the run, the CI smoke run included.
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
