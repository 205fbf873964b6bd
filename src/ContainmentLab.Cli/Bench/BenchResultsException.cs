namespace ContainmentLab.Cli.Bench;

/// <summary>A results file that cannot be read as a BenchmarkDotNet full JSON export (exit code 2).</summary>
internal sealed class BenchResultsException(string message, Exception? inner = null) : Exception(message, inner);
