namespace ContainmentLab.Cli.Bench;

/// <summary>One benchmark of a BenchmarkDotNet run: its full name (with parameters) and nanoseconds per operation of each measured iteration.</summary>
internal sealed record BenchmarkResult(string Name, IReadOnlyList<double> Nanoseconds)
{
    public double Median => Statistics.Median(Nanoseconds);
}
