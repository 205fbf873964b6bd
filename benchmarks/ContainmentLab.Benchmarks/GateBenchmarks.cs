using BenchmarkDotNet.Attributes;
using ContainmentLab.Dispatch;

namespace ContainmentLab.Benchmarks;

/// <summary>The gate alone, in process: closing a session's gate (with its audit record) and refusing the next dispatch.</summary>
public class GateBenchmarks
{
    private static readonly TimeProvider s_time = TimeProvider.System;
    private readonly InterruptGate _closed = new();
    private AuditLog _audit = null!;

    [GlobalSetup]
    public void Setup()
    {
        _audit = new AuditLog(s_time);
        _closed.Close(_audit, "sess-1", "interrupt");
    }

    [GlobalCleanup]
    public void Cleanup() => _audit.Dispose();

    /// <summary>
    /// A fresh gate and log each time (a closed gate cannot be closed again, and one log would grow without bound):
    /// their construction is part of the number, so this is an upper bound on Close + refuse.
    /// </summary>
    [Benchmark]
    public bool CloseThenRefuse()
    {
        using var audit = new AuditLog(s_time);
        var gate = new InterruptGate();
        gate.Close(audit, "sess-1", "interrupt");
        return gate.TryPass(audit, "sess-1", "sess-1/t1", "desktop.press", "17", out _);
    }

    /// <summary>The refusal alone: what every tool call that arrives after Stop costs.</summary>
    [Benchmark(Baseline = true)]
    public bool Refuse() => _closed.TryPass(_audit, "sess-1", "sess-1/t1", "desktop.press", "17", out _);
}
