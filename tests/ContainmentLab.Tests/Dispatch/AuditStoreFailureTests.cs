using System.Diagnostics;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Dispatch;

/// <summary>
/// G8 when the audit store fails (a full disk: <c>/dev/full</c> answers every write with ENOSPC): nothing of it may
/// throw into the bridge, Stop still works, and a tool whose <c>dispatched</c> record cannot be stored does not run.
/// </summary>
[TestFixture]
[Category("G8")]
public sealed class AuditStoreFailureTests
{
    private const string DevFull = "/dev/full";

    private static void RequireDevFull()
    {
        if (!File.Exists(DevFull))
        {
            Assert.Ignore("needs /dev/full (Linux)");
        }
    }

    [Test]
    public void Flush_OnAFullDisk_NeverThrows()
    {
        RequireDevFull();
        // The flush Interrupt queues on the thread pool is this call: an exception from it kills the process.
        using var log = new AuditLog(new FakeTimeProvider(), DevFull);
        log.Append(AuditKind.Interrupted, "s1", detail: "interrupt");

        Assert.That(() => log.Flush(), Throws.Nothing);
        Assert.That(() => log.Flush(toDisk: true), Throws.Nothing);
        Assert.That(() => log.Dispose(), Throws.Nothing);
    }

    [Test]
    public void Flush_OnAFullDisk_FalseWithTheOsError_OneAuditFailedPerEpisode_NothingLostInMemory()
    {
        RequireDevFull();
        var events = new List<ContainmentEvent>();
        var hub = new EventHub();
        hub.Subscribe(events.Add);
        using var log = new AuditLog(new FakeTimeProvider(), DevFull, hub);
        log.Append(AuditKind.Dispatched, "s1", "t1", "desktop.press", "1");

        Assert.That(log.Flush(), Is.False);
        log.Append(AuditKind.Interrupted, "s1", detail: "interrupt");
        Assert.That(log.Flush(toDisk: true), Is.False);
        log.Dispose();

        var failed = events.OfType<AuditFailed>().Single();
        Assert.That(failed.Path, Is.EqualTo(DevFull));
        Assert.That(failed.Error, Does.Contain("No space left on device"));
        Assert.That(failed.FirstUnstoredSeq, Is.EqualTo(1));
        Assert.That(log.Failure!.Error, Is.EqualTo(failed.Error));
        Assert.That(log.FailureEpisodes, Is.EqualTo(1));
        Assert.That(log.Snapshot(), Has.Count.EqualTo(2));
        Assert.That(log.Unstored().Select(r => r.Seq), Is.EqualTo(new long[] { 1, 2 }), "the log says which records never reached the store");
        Assert.That(log.StoredThroughSeq, Is.Zero);
    }

    [Test]
    public void Flush_StoreFailsMidRunAndRecovers_EveryRecordOnceInOrder_OneFailedOneRecovered()
    {
        var events = new List<ContainmentEvent>();
        var hub = new EventHub();
        hub.Subscribe(events.Add);
        var store = new FailingStream { Capacity = 0 };
        using var log = new AuditLog(new FakeTimeProvider(), store, "mem://audit", hub);
        log.Append(AuditKind.Dispatched, "s1", "t1", "desktop.press", "1");
        store.Capacity = store.Length + 10_000;
        Assert.That(log.Flush(), Is.True);

        // The disk fills up in the middle of the next record: part of it reaches the store, then ENOSPC.
        store.Capacity = store.Length + 20;
        var second = log.Append(AuditKind.Began, "s1", "t1", "desktop.press", "1");
        Assert.That(log.FlushThrough(second.Seq), Is.False);
        log.Append(AuditKind.Completed, "s1", "t1", "desktop.press", "1");
        Assert.That(log.Flush(), Is.False, "still full");
        Assert.That(log.Unstored().Select(r => r.Seq), Is.EqualTo(new long[] { 2, 3 }));

        // Space again: the kept records go out, in order, each once and whole.
        store.Capacity = long.MaxValue;
        Assert.That(log.Flush(), Is.True);
        log.Dispose();

        Assert.That(log.Unstored(), Is.Empty);
        Assert.That(events.Select(e => e.GetType()), Is.EqualTo(new[] { typeof(AuditFailed), typeof(AuditRecovered) }));
        Assert.That(((AuditFailed)events[0]).FirstUnstoredSeq, Is.EqualTo(2));
        Assert.That(((AuditRecovered)events[1]).StoredThroughSeq, Is.EqualTo(3));
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, store.Written);
            Assert.That(AuditLog.ReadFile(path).Select(r => r.Seq), Is.EqualTo(new long[] { 1, 2, 3 }));
            Assert.That(File.ReadAllLines(path), Is.EqualTo(log.Snapshot().Select(AuditLog.Serialize).ToArray()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Flush_TornWriteOnAStreamThatCannotSeek_RetryStartsOnANewLine()
    {
        var store = new FailingStream { Capacity = 30, Seekable = false };
        using var log = new AuditLog(new FakeTimeProvider(), store, "pipe");
        log.Append(AuditKind.Dispatched, "s1", "t1", "desktop.press", "1");
        Assert.That(log.Flush(), Is.False);

        store.Capacity = long.MaxValue;
        Assert.That(log.Flush(), Is.True);

        var lines = System.Text.Encoding.UTF8.GetString(store.Written).Split('\n');
        Assert.That(lines[0], Has.Length.EqualTo(30), "the torn fragment stays on its own line");
        Assert.That(lines[1], Is.EqualTo(AuditLog.Serialize(log.Snapshot()[0])), "the record follows whole");
    }

    [Test]
    public void Flush_AfterDispose_NoWriteNoFailure()
    {
        // The flush an interrupt queues on the thread pool may run after the bridge closed its log.
        var events = new List<ContainmentEvent>();
        var hub = new EventHub();
        hub.Subscribe(events.Add);
        var store = new FailingStream { Capacity = long.MaxValue };
        var log = new AuditLog(new FakeTimeProvider(), store, "mem", hub);
        log.Append(AuditKind.Dispatched, "s1", "t1", "desktop.press", "1");
        log.Dispose();
        log.Append(AuditKind.Completed, "s1", "t1", "desktop.press", "1");

        Assert.That(log.Flush(toDisk: true), Is.False, "the record after Dispose is in memory only");
        Assert.That(events, Is.Empty, "a closed store is not a failing one");
        Assert.That(log.Unstored().Select(r => r.Seq), Is.EqualTo(new long[] { 2 }));
    }

    [Test]
    public void Append_StringsWithLoneSurrogates_NeverThrow_AndAreWrittenWithReplacementCharacters()
    {
        // A session id or tool call id is the agent's choice, and JSON can carry a lone surrogate ("\ud800"), which UTF-8
        // cannot: Append (on the Stop path) must still not throw.
        var store = new FailingStream { Capacity = long.MaxValue };
        using var log = new AuditLog(new FakeTimeProvider(), store, "mem");

        Assert.That(() => log.Append(AuditKind.Interrupted, "s\ud800", "t\udc00x", detail: "ok \ud83d\ude00"), Throws.Nothing);
        Assert.That(log.Flush(), Is.True);

        using var written = System.Text.Json.JsonDocument.Parse(store.Written);
        Assert.That(written.RootElement.GetProperty("sessionId").GetString(), Is.EqualTo("s\uFFFD"));
        Assert.That(written.RootElement.GetProperty("toolCallId").GetString(), Is.EqualTo("t\uFFFDx"));
        Assert.That(written.RootElement.GetProperty("detail").GetString(), Is.EqualTo("ok \ud83d\ude00"), "a valid pair stays as it is");
        Assert.That(log.Snapshot()[0].SessionId, Is.EqualTo("s\ud800"), "the in-memory record keeps what the agent sent");
    }

    [Test]
    public async Task HandleAsync_StoreFailsMidRun_LaterToolsFailClosed_StopStillCloses()
    {
        var store = new FailingStream { Capacity = long.MaxValue };
        using var audit = new AuditLog(new FakeTimeProvider(), store, "mem");
        using var session = new DispatchSession("s1");
        var desktop = new VirtualDesktop();
        await using var tools = new HostToolRegistry().Add(new DesktopTool(desktop, DesktopTool.Press));
        var dispatcher = new Dispatcher(new DispatcherOptions(), tools, audit, new EventHub(), new FakeTimeProvider(), id => id == "s1" ? session : null);

        var first = Wire.Response(await dispatcher.HandleAsync(Wire.Tool(0, "s1", "t0", DesktopTool.Press, new { target = "A" })));
        store.Capacity = store.Length;
        var second = Wire.Response(await dispatcher.HandleAsync(Wire.Tool(1, "s1", "t1", DesktopTool.Press, new { target = "B" })));

        Assert.That(first.Error, Is.Null);
        Assert.That(second.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.InternalError));
        Assert.That(second.Error.Message, Does.Contain("could not be stored").And.Contain("No space left on device"));
        Assert.That(desktop.Snapshot().Select(a => a.Target), Is.EqualTo(new[] { "A" }));
        Assert.That(() => session.Gate.Close(audit, "s1", "interrupt"), Throws.Nothing);
        Assert.That(session.Gate.IsClosed, Is.True);
        Assert.That(audit.Snapshot().Where(r => r.ToolCallId == "t1").Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Failed }));
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(audit.Snapshot()), Is.Empty);
    }

    [Test]
    public void Append_OnAFullDisk_NeverThrows_HowEverManyRecordsFollow()
    {
        RequireDevFull();
        // The gate writes `interrupted` with Append, inside Interrupt: once a buffer in front of the full disk is full,
        // an Append that throws makes Stop throw after closing the gate, before session/cancel is queued.
        using var log = new AuditLog(new FakeTimeProvider(), DevFull);
        for (var i = 0; i < 200; i++)
        {
            Assert.That(() => log.Append(AuditKind.Dispatched, "s1", $"t{i}", "desktop.press", i.ToString(System.Globalization.CultureInfo.InvariantCulture), new string('x', 100)), Throws.Nothing, $"record {i}");
            try
            {
                log.Flush();
            }
            catch (IOException)
            {
                // Today's Flush throws (the test above); what matters here is what Append does afterwards.
            }
        }

        Assert.That(log.Snapshot(), Has.Count.EqualTo(200), "every record kept in memory");
    }

    [Test]
    public async Task HandleAsync_DispatchedRecordCannotBeStored_ToolDoesNotRun_AgentGetsAnError()
    {
        RequireDevFull();
        using var audit = new AuditLog(new FakeTimeProvider(), DevFull);
        using var session = new DispatchSession("s1");
        var desktop = new VirtualDesktop();
        using var http = new HttpClient();
        var root = Directory.CreateTempSubdirectory("cl-audit-fail-");
        try
        {
            var tools = HostToolRegistry.CreateDefault(new Sandbox(root.FullName), desktop, http);
            await using var disposeTools = tools;
            var dispatcher = new Dispatcher(new DispatcherOptions(), tools, audit, new EventHub(), new FakeTimeProvider(), id => id == "s1" ? session : null);

            byte[] line;
            try
            {
                line = await dispatcher.HandleAsync(Wire.Tool(0, "s1", "t0", DesktopTool.Press, new { target = "Pay" }));
            }
            catch (IOException ex)
            {
                Assert.Fail($"the dispatcher threw instead of answering: {ex.Message}");
                return;
            }

            var response = Wire.Response(line);
            Assert.That(response.Error, Is.Not.Null, "the agent is answered with an error");
            Assert.That(response.Error!.Message, Does.Contain("audit log"));
            Assert.That(desktop.Count, Is.Zero, "fail closed: the button was not pressed");
            Assert.That(audit.Snapshot().Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Failed }), "the call still ends in one terminal record (in memory)");
            Assert.That(AuditChecks.ExactlyOneTerminalRecord(audit.Snapshot()), Is.Empty);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The bridge with its audit file on a full disk: the tool fails closed and its caller gets an error; Stop then closes
    /// the gate, queues session/cancel, answers the pending permission 'cancelled', and the turn ends (the interrupt's
    /// flush on the thread pool fails quietly). Checked before Stop first: on a bridge whose flush throws, this test fails
    /// there instead of letting the thread pool's exception take the test run down.
    /// </summary>
    [Test]
    [Category("G1")]
    [Category("G3")]
    [CancelAfter(60_000)]
    public async Task Interrupt_AuditOnAFullDisk_ToolFailsClosed_StopStillEndsTheTurn()
    {
        RequireDevFull();
        var tap = new LineTap();
        var dialogOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var lab = await InProcessBridge.StartAsync("""
            prompts:
              - steps:
                  - tool: desktop.press
                    arguments: { target: Pay }
                  - permission: { title: "Delete the report", kind: delete }
                  - end: end_turn
            """, o => LabOptions.With(o, tap, new PolicySet { Destructive = ToolPolicy.Confirm }, (_, token) =>
        {
            // A dialog nobody answers: only Stop ends this wait.
            dialogOpen.TrySetResult();
            return new ValueTask<bool>(Task.Delay(Timeout.Infinite, token).ContinueWith(_ => false, TaskScheduler.Default));
        }, auditPath: DevFull));
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "go");

        await Until.TrueAsync(() => lab.Of<ToolCompleted>().Count > 0 || turn.IsCompleted, "the tool call ended");
        Assert.That(lab.Of<ToolCompleted>().Single().Result, Is.EqualTo(AuditKind.Failed), "fail closed");
        Assert.That(lab.Bridge.Desktop.Count, Is.Zero, "the button was not pressed");
        // The answer is queued after the call's terminal record and event: wait for the writer to put it on the wire.
        await Until.TrueAsync(() => tap.AnswerTo(AcpMethods.ContainmentTool) is not null, "the tool call's answer on the wire");
        Assert.That(tap.AnswerTo(AcpMethods.ContainmentTool)!.Error?.Message, Does.Contain("could not be stored"), "the agent got an error answer");
        Assert.That(lab.Of<AuditFailed>().Single().Path, Is.EqualTo(DevFull));
        await dialogOpen.Task.OrTimeout();

        Assert.That(() => lab.Bridge.Interrupt(session), Throws.Nothing);
        var outcome = await turn.OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(tap.Sent(), Has.Some.Contains($"\"method\":\"{AcpMethods.SessionCancel}\""), "session/cancel was written");

        // The agent may end its turn on the cancel before it reads the permission's answer: wait for that answer's line.
        await Until.TrueAsync(() => tap.AnswerTo(AcpMethods.RequestPermission) is not null, "the permission's answer on the wire");
        Assert.That(tap.AnswerTo(AcpMethods.RequestPermission)?.ResultAs(AcpJsonContext.Default.RequestPermissionResponse).Outcome, Is.EqualTo(PermissionOutcome.Cancelled));
        Assert.That(lab.Of<AuditFailed>(), Has.Count.EqualTo(1), "one event per failure episode");
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(lab.Audit), Is.Empty);
        Assert.That(lab.Bridge.Audit.Unstored(), Has.Count.EqualTo(lab.Audit.Count), "nothing reached the disk, all of it is in memory");
    }

    /// <summary>
    /// The whole bridge in its own process (the CLI's demo: the fake agent as a child process, three storming sessions,
    /// Stop for one and then for all) with its audit log on a full disk. An exception on the thread pool kills that
    /// process, not this test run: the test sees the exit code and the stderr.
    /// </summary>
    [Test]
    [Category("Process")]
    [Category("G1")]
    [Category("G3")]
    [CancelAfter(180_000)]
    public async Task Demo_AuditOnAFullDisk_StopStillEndsEveryTurnAndTheHostLives(CancellationToken cancellationToken)
    {
        RequireDevFull();
        var info = new ProcessStartInfo(RepositoryPaths.Cli, ["demo", "--audit", DevFull, "--storm", "600"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var host = Process.Start(info)!;
        try
        {
            var stdout = host.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = host.StandardError.ReadToEndAsync(cancellationToken);
            await host.WaitForExitAsync(cancellationToken);
            var output = await stdout + await stderr;

            Assert.That(output, Does.Not.Contain("Unhandled exception"), output);
            Assert.That(host.ExitCode, Is.Zero, "every guarantee held and the demo ended normally:\n" + output);
        }
        finally
        {
            if (!host.HasExited)
            {
                host.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>A store with room for <see cref="Capacity"/> bytes: a write past it writes what fits, then fails as a full disk does.</summary>
    private sealed class FailingStream : Stream
    {
        private readonly MemoryStream _bytes = new();

        public long Capacity { get; set; }

        public bool Seekable { get; init; } = true;

        public byte[] Written => _bytes.ToArray();

        public override bool CanRead => false;

        public override bool CanSeek => Seekable;

        public override bool CanWrite => true;

        public override long Length => _bytes.Length;

        public override long Position
        {
            get => _bytes.Position;
            set => _bytes.Position = Seekable ? value : throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var room = (int)Math.Clamp(Capacity - _bytes.Position, 0, buffer.Length);
            _bytes.Write(buffer[..room]);
            if (room < buffer.Length)
            {
                throw new IOException("No space left on device : 'mem'");
            }
        }

        public override void SetLength(long value)
        {
            if (!Seekable)
            {
                throw new NotSupportedException();
            }

            _bytes.SetLength(value);
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => Seekable ? _bytes.Seek(offset, origin) : throw new NotSupportedException();
    }
}
