using ContainmentLab.Dispatch;

namespace ContainmentLab.Tests.Dispatch;

[TestFixture]
public sealed class AuditChecksTests
{
    private static AuditRecord R(long seq, AuditKind kind, string session = "s", string? call = null) =>
        new(seq, DateTimeOffset.UnixEpoch, kind, session, call, call is null ? null : "desktop.press", call, null);

    [Test]
    public void NoDispatchAfterInterrupt_DispatchAfterInterruptRecord_IsReported()
    {
        var records = new[] { R(1, AuditKind.Dispatched, call: "a"), R(2, AuditKind.Interrupted), R(3, AuditKind.Dispatched, call: "b") };

        var violations = AuditChecks.NoDispatchAfterInterrupt(records);

        Assert.That(violations, Has.Count.EqualTo(1));
        Assert.That(violations[0], Does.Contain("seq 3").And.Contain("seq 2"));
    }

    [Test]
    public void NoDispatchAfterInterrupt_OtherSessionsDispatch_IsFine()
    {
        var records = new[] { R(1, AuditKind.Interrupted, "s1"), R(2, AuditKind.Dispatched, "s2", "a") };

        Assert.That(AuditChecks.NoDispatchAfterInterrupt(records), Is.Empty);
    }

    [Test]
    public void ExactlyOneTerminalRecord_FindsMissingAndDoubleEnds()
    {
        var records = new[]
        {
            R(1, AuditKind.Dispatched, call: "a"), R(2, AuditKind.Completed, call: "a"), R(3, AuditKind.Canceled, call: "a"),
            R(4, AuditKind.Dispatched, call: "b"),
            R(5, AuditKind.Skipped, call: "c"),
        };

        var violations = AuditChecks.ExactlyOneTerminalRecord(records);

        Assert.That(violations, Has.Count.EqualTo(2));
        Assert.That(violations, Has.Some.Contains("second terminal record 'canceled'"));
        Assert.That(violations, Has.Some.Contains("tool call b").And.Contains("never ended"));
    }
}
