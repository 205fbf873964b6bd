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

    [Test]
    public void NoDispatchAfterInterrupt_BeganAfterInterrupt_IsReported()
    {
        var records = new[] { R(1, AuditKind.Dispatched, call: "a"), R(2, AuditKind.Interrupted), R(3, AuditKind.Began, call: "a"), R(4, AuditKind.Canceled, call: "a") };

        var violations = AuditChecks.NoDispatchAfterInterrupt(records);

        Assert.That(violations, Has.Count.EqualTo(1));
        Assert.That(violations[0], Does.Contain("began the side effect").And.Contain("seq 3").And.Contain("seq 2"));
    }

    [Test]
    public void NoDispatchAfterInterrupt_BeganWithoutDispatchOrTwice_IsReported()
    {
        var records = new[] { R(1, AuditKind.Began, call: "a"), R(2, AuditKind.Dispatched, call: "b"), R(3, AuditKind.Began, call: "b"), R(4, AuditKind.Began, call: "b") };

        var violations = AuditChecks.NoDispatchAfterInterrupt(records);

        Assert.That(violations, Has.Count.EqualTo(2));
        Assert.That(violations, Has.Some.Contains("(a)").And.Contains("without a dispatched record"));
        Assert.That(violations, Has.Some.Contains("(b)").And.Contains("a second time at seq 4"));
    }

    [Test]
    public void Checks_BeganBeforeInterrupt_HoldsAndIsNotTerminal()
    {
        var records = new[] { R(1, AuditKind.Dispatched, call: "a"), R(2, AuditKind.Began, call: "a"), R(3, AuditKind.Interrupted), R(4, AuditKind.Canceled, call: "a"), R(5, AuditKind.Dispatched, call: "b"), R(6, AuditKind.Began, call: "b") };

        Assert.That(AuditChecks.NoDispatchAfterInterrupt(records[..4]), Is.Empty);
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(records[..4]), Is.Empty, "began is not a terminal record");
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(records), Has.Some.Contains("tool call b").And.Contains("never ended"), "nor does it end a call");
    }
}
