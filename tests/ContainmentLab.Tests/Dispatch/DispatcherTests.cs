using System.Text.Json;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Dispatch;

[TestFixture]
public sealed class DispatcherTests
{
    private DirectoryInfo _root = null!;
    private VirtualDesktop _desktop = null!;
    private AuditLog _audit = null!;
    private List<ContainmentEvent> _events = null!;
    private DispatchSession _session = null!;
    private HttpClient _http = null!;

    [SetUp]
    public void SetUp()
    {
        _root = Directory.CreateTempSubdirectory("cl-dispatch-test-");
        _desktop = new VirtualDesktop();
        _audit = new AuditLog(new FakeTimeProvider());
        _events = [];
        _session = new DispatchSession("s1");
        _http = new HttpClient();
    }

    [TearDown]
    public void TearDown()
    {
        _root.Delete(recursive: true);
        _audit.Dispose();
        _session.Dispose();
        _http.Dispose();
    }

    private Dispatcher Create(PolicySet? policies = null, Func<ConfirmRequest, CancellationToken, ValueTask<bool>>? confirm = null)
    {
        var hub = new EventHub();
        hub.Subscribe(e => { lock (_events) { _events.Add(e); } });
        var tools = HostToolRegistry.CreateDefault(new Sandbox(_root.FullName), _desktop, _http);
        return new Dispatcher(new DispatcherOptions { Policies = policies ?? new PolicySet(), ConfirmAsync = confirm }, tools, _audit, hub, new FakeTimeProvider(), id => id == "s1" ? _session : null);
    }

    private static IncomingMessage Press(long id, string session = "s1") => Wire.Tool(id, session, $"t{id}", DesktopTool.Press, new { target = "OK" });

    private IEnumerable<AuditKind> Kinds() => _audit.Snapshot().Select(r => r.Kind);

    [Test]
    public async Task HandleAsync_OpenGate_DispatchesThenCompletes()
    {
        var response = Wire.Response(await Create().HandleAsync(Press(0)));

        Assert.That(response.Error, Is.Null);
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Began, AuditKind.Completed }));
        Assert.That(_desktop.Snapshot().Single().Target, Is.EqualTo("OK"));
        Assert.That(_events.OfType<ToolDispatched>().Single().Seq, Is.EqualTo(1));
    }

    [Test]
    public async Task HandleAsync_ClosedGate_SkipsWithErrorAndNeverDispatches()
    {
        var dispatcher = Create();
        _session.Gate.Close(_audit, "s1", "interrupt");

        var response = Wire.Response(await dispatcher.HandleAsync(Press(0)));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Interrupted));
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Interrupted, AuditKind.Skipped }));
        Assert.That(_desktop.Count, Is.Zero);
        Assert.That(_events.OfType<ToolSkipped>().Single().ToolCallId, Is.EqualTo("t0"));
    }

    [Test]
    public async Task HandleAsync_UnknownSession_DeniedWithViolation()
    {
        var response = Wire.Response(await Create().HandleAsync(Press(0, "ghost")));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidParams));
        Assert.That(response.Error.Message, Does.Contain("unknown session 'ghost'"));
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Denied }));
        Assert.That(_events.OfType<ProtocolViolation>().Single().Line, Is.EqualTo(1));
    }

    [Test]
    public async Task HandleAsync_UnknownTool_DeniedNotDispatched()
    {
        var response = Wire.Response(await Create().HandleAsync(Wire.Tool(0, "s1", "t0", "desktop.format_disk", new { })));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.MethodNotFound));
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Denied }));
    }

    [Test]
    public async Task HandleAsync_DenyPolicy_Denied()
    {
        var response = Wire.Response(await Create(new PolicySet { SideEffect = ToolPolicy.Deny }).HandleAsync(Press(0)));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Denied));
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Denied }));
        Assert.That(_desktop.Count, Is.Zero);
    }

    [Test]
    public async Task HandleAsync_DryRunPolicy_AnswersWhatItWouldDoWithoutDoingIt()
    {
        var response = Wire.Response(await Create(new PolicySet { SideEffect = ToolPolicy.DryRun }).HandleAsync(Press(0)));

        var result = response.ResultAs(AcpJsonContext.Default.ContainmentToolResponse);
        Assert.That(result.DryRun, Is.True);
        Assert.That(result.WouldDo, Is.EqualTo("press 'OK'"));
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.DryRun }));
        Assert.That(_desktop.Count, Is.Zero);
    }

    [Test]
    public async Task HandleAsync_DryRunOfFsWrite_StaysSchemaValidAndWritesNothing()
    {
        var request = Wire.Request(0, AcpMethods.WriteTextFile, new WriteTextFileRequest("s1", "a.txt", "hello"), AcpJsonContext.Default.WriteTextFileRequest);

        var response = Wire.Response(await Create(new PolicySet { Destructive = ToolPolicy.DryRun }).HandleAsync(request));

        Assert.That(response.Result.GetProperty("_meta").GetProperty("containmentlab.dryRun").GetString(), Does.Contain("write 5 bytes to a.txt"));
        Assert.That(File.Exists(Path.Combine(_root.FullName, "a.txt")), Is.False);
    }

    [TestCase(true, AuditKind.Completed)]
    [TestCase(false, AuditKind.Denied)]
    public async Task HandleAsync_ConfirmPolicy_FollowsTheUsersAnswer(bool answer, AuditKind expected)
    {
        ConfirmRequest? asked = null;
        var dispatcher = Create(new PolicySet { SideEffect = ToolPolicy.Confirm }, (request, _) => { asked = request; return ValueTask.FromResult(answer); });

        await dispatcher.HandleAsync(Press(0));

        Assert.That(asked!.Description, Is.EqualTo("press 'OK'"));
        Assert.That(Kinds(), Is.EqualTo(answer ? new[] { AuditKind.Dispatched, AuditKind.Began, expected } : [AuditKind.Dispatched, expected]));
        Assert.That(_desktop.Count, Is.EqualTo(answer ? 1 : 0));
    }

    [Test]
    public async Task HandleAsync_InterruptWhileUserDecides_CanceledAndToolNeverRuns()
    {
        var dialog = new TaskCompletionSource<bool>();
        var dispatcher = Create(new PolicySet { SideEffect = ToolPolicy.Confirm }, (_, _) => new ValueTask<bool>(dialog.Task));

        var pending = dispatcher.HandleAsync(Press(0)).AsTask();
        Assert.That(pending.IsCompleted, Is.False);
        _session.Gate.Close(_audit, "s1", "interrupt");
        _session.CancelInFlight();
        dialog.SetResult(true); // the user clicks "yes" too late
        var response = Wire.Response(await pending);

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Interrupted));
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Interrupted, AuditKind.Canceled }));
        Assert.That(_desktop.Count, Is.Zero);
    }

    [Test]
    public async Task HandleAsync_YesArrivesAfterGateClosed_GateIsCheckedAgain()
    {
        var dispatcher = Create(new PolicySet { SideEffect = ToolPolicy.Confirm }, (_, _) =>
        {
            // Stop lands while the dialog is open; the answer comes back "yes" anyway.
            _session.Gate.Close(_audit, "s1", "interrupt");
            return ValueTask.FromResult(true);
        });

        var response = Wire.Response(await dispatcher.HandleAsync(Press(0)));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Interrupted));
        Assert.That(_desktop.Count, Is.Zero);
    }

    [Test]
    public async Task HandleAsync_NoConfirmCallback_ConfirmMeansDeny()
    {
        await Create(new PolicySet { SideEffect = ToolPolicy.Confirm }).HandleAsync(Press(0));

        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Denied }));
    }

    [Test]
    public async Task HandleAsync_FsWriteOutsideSandbox_DeniedWithClearError()
    {
        var request = Wire.Request(0, AcpMethods.WriteTextFile, new WriteTextFileRequest("s1", "../escape.txt", "x"), AcpJsonContext.Default.WriteTextFileRequest);

        var response = Wire.Response(await Create(new PolicySet { Destructive = ToolPolicy.Allow }).HandleAsync(request));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Denied));
        Assert.That(response.Error.Message, Does.Contain("outside the sandbox root"));
        Assert.That(_audit.Snapshot()[^1].Kind, Is.EqualTo(AuditKind.Denied));
        Assert.That(File.Exists(Path.Combine(_root.Parent!.FullName, "escape.txt")), Is.False);
    }

    [Test]
    public async Task HandleAsync_FsWriteThenRead_RoundTripsInsideSandbox()
    {
        var dispatcher = Create(new PolicySet { Destructive = ToolPolicy.Allow });
        await dispatcher.HandleAsync(Wire.Request(0, AcpMethods.WriteTextFile, new WriteTextFileRequest("s1", "notes/a.txt", "one\ntwo\nthree"), AcpJsonContext.Default.WriteTextFileRequest));

        var read = Wire.Response(await dispatcher.HandleAsync(Wire.Request(1, AcpMethods.ReadTextFile, new ReadTextFileRequest("s1", Path.Combine(_root.FullName, "notes/a.txt"), 2, 1), AcpJsonContext.Default.ReadTextFileRequest)));

        Assert.That(read.ResultAs(AcpJsonContext.Default.ReadTextFileResponse).Content, Is.EqualTo("two"));
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(_audit.Snapshot()), Is.Empty);
    }

    [Test]
    public async Task HandleAsync_BadParams_InvalidParamsAndViolation()
    {
        var request = Wire.Request(0, AcpMethods.WriteTextFile, new Dictionary<string, string> { ["sessionId"] = "s1" }, AcpJsonContext.Default.DictionaryStringString);

        var response = Wire.Response(await Create().HandleAsync(request));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidParams));
        Assert.That(_events.OfType<ProtocolViolation>(), Is.Not.Empty);
    }

    private static IncomingMessage Permission(long id) => Wire.Request(id, AcpMethods.RequestPermission,
        new RequestPermissionRequest("s1", new ToolCallRef("agent-tool-1", "Delete report", "delete"), [new PermissionOption("yes", "Allow", "allow_once"), new PermissionOption("no", "Reject", "reject_once")]),
        AcpJsonContext.Default.RequestPermissionRequest);

    [Test]
    public async Task HandlePermission_AllowPolicy_SelectsAllowOption()
    {
        var response = Wire.Response(await Create(new PolicySet { Destructive = ToolPolicy.Allow }).HandleAsync(Permission(0)));

        Assert.That(response.ResultAs(AcpJsonContext.Default.RequestPermissionResponse).Outcome, Is.EqualTo(PermissionOutcome.Selected("yes")));
    }

    [Test]
    public async Task HandlePermission_DenyPolicy_SelectsRejectOptionNotCancelled()
    {
        // A user's deny is a reject option: answering 'cancelled' would end the agent's whole turn.
        var response = Wire.Response(await Create(new PolicySet { Destructive = ToolPolicy.Deny }).HandleAsync(Permission(0)));

        Assert.That(response.ResultAs(AcpJsonContext.Default.RequestPermissionResponse).Outcome, Is.EqualTo(PermissionOutcome.Selected("no")));
    }

    [Test]
    public async Task HandlePermission_PendingWhenInterrupted_AnsweredCancelled()
    {
        var dialog = new TaskCompletionSource<bool>();
        var dispatcher = Create(new PolicySet { Destructive = ToolPolicy.Confirm }, (_, _) => new ValueTask<bool>(dialog.Task));

        var pending = dispatcher.HandleAsync(Permission(0)).AsTask();
        Assert.That(pending.IsCompleted, Is.False);
        _session.Gate.Close(_audit, "s1", "interrupt");
        _session.CancelInFlight();
        var response = Wire.Response(await pending);

        Assert.That(response.ResultAs(AcpJsonContext.Default.RequestPermissionResponse).Outcome, Is.EqualTo(PermissionOutcome.Cancelled));
        Assert.That(_audit.Snapshot()[^1].Detail, Is.EqualTo("cancelled"));
    }

    [Test]
    public async Task HandlePermission_YesArrivesAfterGateClosed_AnsweredCancelledNotAllow()
    {
        var dispatcher = Create(new PolicySet { Destructive = ToolPolicy.Confirm }, (_, _) =>
        {
            // Stop lands while the dialog is open (gate closed, pending requests not yet swept); the user still says yes.
            _session.Gate.Close(_audit, "s1", "interrupt");
            return ValueTask.FromResult(true);
        });

        var response = Wire.Response(await dispatcher.HandleAsync(Permission(0)));

        Assert.That(response.ResultAs(AcpJsonContext.Default.RequestPermissionResponse).Outcome, Is.EqualTo(PermissionOutcome.Cancelled));
        Assert.That(_audit.Snapshot()[^1].Detail, Is.EqualTo("cancelled"));
    }

    [Test]
    public async Task HandlePermission_AfterInterrupt_AnsweredCancelledAtOnce()
    {
        var dispatcher = Create(new PolicySet { Destructive = ToolPolicy.Allow });
        _session.Gate.Close(_audit, "s1", "interrupt");

        var response = Wire.Response(await dispatcher.HandleAsync(Permission(0)));

        Assert.That(response.ResultAs(AcpJsonContext.Default.RequestPermissionResponse).Outcome.Outcome, Is.EqualTo("cancelled"));
    }

    // G8/G9: an agent that sends a tool call again (a duplicated line, a reused request id) gets it refused, not run
    // twice. Found by the fuzzer: a duplicated fs/write_text_file line ran twice and left two terminal records.
    [Category("G9")]
    [TestCase(7, 7, TestName = "HandleAsync_SameLineTwice_RunsOnceAndRefusesTheReplay")]
    [TestCase(7, 8, TestName = "HandleAsync_SameToolCallIdUnderANewRequestId_RunsOnceAndRefusesTheReplay")]
    public async Task HandleAsync_ToolCallReplayed_RunsOnce(long firstId, long secondId)
    {
        var dispatcher = Create();

        var first = Wire.Response(await dispatcher.HandleAsync(Wire.Tool(firstId, "s1", "t1", DesktopTool.Press, new { target = "Pay" })));
        var second = Wire.Response(await dispatcher.HandleAsync(Wire.Tool(secondId, "s1", "t1", DesktopTool.Press, new { target = "Pay" })));

        Assert.That(first.Error, Is.Null);
        Assert.That(second.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidParams));
        Assert.That(second.Id, Is.EqualTo(RpcId.FromNumber(secondId)), "the replay is answered, with its own id");
        Assert.That(_desktop.Count, Is.EqualTo(1), "the button was pressed once");
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(_audit.Snapshot()), Is.Empty);
        Assert.That(_events.OfType<ProtocolViolation>().Single().Reason, Does.Contain("repeats tool call 't1'"));
    }

    [Test]
    [Category("G9")]
    public async Task HandleAsync_ReplayedFsCallAfterInterrupt_OneSkippedRecord()
    {
        var dispatcher = Create();
        _session.Gate.Close(_audit, "s1", "interrupt");
        var write = Wire.Request(3, AcpMethods.WriteTextFile, new WriteTextFileRequest("s1", "a.txt", "x"), AcpJsonContext.Default.WriteTextFileRequest);

        var first = Wire.Response(await dispatcher.HandleAsync(write));
        var second = Wire.Response(await dispatcher.HandleAsync(write));

        Assert.That(first.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Interrupted));
        Assert.That(second.Error, Is.Not.Null);
        Assert.That(_audit.Snapshot().Count(r => r.Kind == AuditKind.Skipped), Is.EqualTo(1));
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(_audit.Snapshot()), Is.Empty);
    }

    [Test]
    [Category("G9")]
    public async Task HandleAsync_SameToolCallIdInAnotherSession_IsAnotherCall()
    {
        using var other = new DispatchSession("s2");
        var hub = new EventHub();
        var tools = HostToolRegistry.CreateDefault(new Sandbox(_root.FullName), _desktop, _http);
        var dispatcher = new Dispatcher(new DispatcherOptions(), tools, _audit, hub, new FakeTimeProvider(), id => id switch { "s1" => _session, "s2" => other, _ => null });

        var first = Wire.Response(await dispatcher.HandleAsync(Wire.Tool(1, "s1", "t1", DesktopTool.Press, new { target = "A" })));
        var second = Wire.Response(await dispatcher.HandleAsync(Wire.Tool(1, "s2", "t1", DesktopTool.Press, new { target = "B" })));

        Assert.That(first.Error, Is.Null);
        Assert.That(second.Error, Is.Null);
        Assert.That(_desktop.Count, Is.EqualTo(2));
    }
}
