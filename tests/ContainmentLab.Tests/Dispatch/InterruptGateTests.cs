using ContainmentLab.Dispatch;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Dispatch;

[TestFixture]
[Category("G1")]
public sealed class InterruptGateTests
{
    [Test]
    public void Close_IsIdempotent_AndRecordsOnce()
    {
        using var audit = new AuditLog(new FakeTimeProvider());
        var gate = new InterruptGate();

        Assert.That(gate.Close(audit, "s", "interrupt"), Is.True);
        Assert.That(gate.Close(audit, "s", "interrupt"), Is.False);
        Assert.That(audit.Snapshot().Count(r => r.Kind == AuditKind.Interrupted), Is.EqualTo(1));
        Assert.That(gate.ClosedAtSeq, Is.EqualTo(1));
    }

    [Test]
    public void TryPass_RacingClose_EveryDispatchPrecedesTheInterruptRecord([Range(1, 20)] int trial)
    {
        // Many threads pass the gate while another closes it: whatever the interleaving, no dispatched record may
        // carry a sequence number above the interrupted record's.
        using var audit = new AuditLog(new FakeTimeProvider());
        var gate = new InterruptGate();
        using var start = new Barrier(5);
        var passers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 2_000; i++)
            {
                gate.TryPass(audit, "s", $"{t}-{i}", "tool", null, out _);
            }
        })).ToArray();
        var closer = Task.Run(() =>
        {
            start.SignalAndWait();
            for (var spin = 0; spin < trial * 500; spin++)
            {
                Thread.SpinWait(1);
            }

            gate.Close(audit, "s", "interrupt");
        });
        Task.WaitAll([.. passers, closer]);

        Assert.That(AuditChecks.NoDispatchAfterInterrupt(audit.Snapshot()), Is.Empty);
        Assert.That(gate.TryPass(audit, "s", "late", "tool", null, out _), Is.False);
    }
}
