using ContainmentLab.Dispatch;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Dispatch;

[TestFixture]
public sealed class AuditLogTests
{
    [Test]
    public void Append_AssignsMonotonicSequence_AndWritesJsonLinesThatReadBack()
    {
        var path = Path.GetTempFileName();
        try
        {
            using (var log = new AuditLog(new FakeTimeProvider(), path))
            {
                log.Append(AuditKind.Dispatched, "s1", "t1", "desktop.press", "0");
                log.Append(AuditKind.Completed, "s1", "t1", "desktop.press", "0");
                log.Append(AuditKind.Interrupted, "s1", detail: "interrupt");
                log.Flush();
            }

            var records = AuditLog.ReadFile(path);

            Assert.That(records.Select(r => r.Seq), Is.EqualTo(new long[] { 1, 2, 3 }));
            Assert.That(records.Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Completed, AuditKind.Interrupted }));
            Assert.That(File.ReadAllLines(path)[0], Does.StartWith("{\"seq\":1,").And.Contain("\"kind\":\"dispatched\""));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Began_RoundTripsThroughTheFile()
    {
        var path = Path.GetTempFileName();
        try
        {
            using (var log = new AuditLog(new FakeTimeProvider(), path))
            {
                log.Append(AuditKind.Began, "s1", "t1", "desktop.press", "0");
            }

            Assert.That(File.ReadAllText(path), Does.Contain("\"kind\":\"began\""));
            Assert.That(AuditLog.ReadFile(path).Single().Kind, Is.EqualTo(AuditKind.Began));
            Assert.That(AuditKind.Began.IsTerminal(), Is.False);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ReadFile_BadLine_NamesFileAndLine()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "{\"seq\":1,\"at\":\"2026-01-01T00:00:00Z\",\"kind\":\"dispatched\"}\n{oops\n");

            Assert.That(() => AuditLog.ReadFile(path), Throws.TypeOf<FormatException>().With.Message.StartsWith($"{path}:2:"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Flush_PutsEveryRecordInTheFileBeforeDispose_LineForLineAsSerialize()
    {
        var path = Path.GetTempFileName();
        try
        {
            using var log = new AuditLog(new FakeTimeProvider(), path);
            var records = new[]
            {
                log.Append(AuditKind.Dispatched, "s1", "t1", "desktop.set_value", "7"),
                log.Append(AuditKind.Failed, "s1", "t1", "desktop.set_value", "7", "quote \" newline \n non-ASCII é ✓"),
            };
            log.Flush();

            // Read while the log is still open: a flushed record has left the process (G8: dispatched before the tool runs).
            using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);

            Assert.That(lines, Is.EqualTo(records.Select(AuditLog.Serialize).ToArray()));
            Assert.That(AuditLog.ReadFile(path)[1].Detail, Is.EqualTo(records[1].Detail));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void AppendAndFlushThrough_FromManyThreads_TheFileHoldsEveryRecordOnceInSequenceOrder()
    {
        var path = Path.GetTempFileName();
        try
        {
            using (var log = new AuditLog(new FakeTimeProvider(), path))
            {
                Parallel.For(0, 8, t =>
                {
                    for (var i = 0; i < 500; i++)
                    {
                        var record = log.Append(AuditKind.Dispatched, "s1", $"{t}-{i}", "desktop.press", null);
                        Assert.That(log.FlushThrough(record.Seq), Is.True);
                        Assert.That(log.StoredThroughSeq, Is.GreaterThanOrEqualTo(record.Seq));
                    }
                });
                Assert.That(log.Unstored(), Is.Empty);
            }

            Assert.That(AuditLog.ReadFile(path).Select(r => r.Seq), Is.EqualTo(Enumerable.Range(1, 4000).Select(i => (long)i)));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
