using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>What every Stop benchmark checks after each iteration and hands to the summary (G1, and that the turn was acked).</summary>
internal sealed class StopChecks(string key)
{
    private long _dispatchesAfterInterrupt;
    private long _iterations;

    public void Check(AcpBridge bridge, IEnumerable<string> sessions, IEnumerable<TurnOutcome> outcomes)
    {
        var interrupted = sessions.ToHashSet(StringComparer.Ordinal);
        var records = bridge.Audit.Snapshot().Where(r => r.SessionId is { } s && interrupted.Contains(s)).ToList();
        _dispatchesAfterInterrupt += AuditChecks.NoDispatchAfterInterrupt(records).Count;
        _iterations++;
        foreach (var outcome in outcomes)
        {
            if (outcome.End != TurnEnd.Cancelled)
            {
                throw new InvalidOperationException($"an interrupted turn ended {outcome.End}, not acked: {outcome}");
            }
        }
    }

    public void Publish() => BenchMetrics.Write(key, new Dictionary<string, long>
    {
        [BenchMetrics.DispatchesAfterInterrupt] = _dispatchesAfterInterrupt,
        [BenchMetrics.InterruptedIterations] = _iterations,
    });
}
