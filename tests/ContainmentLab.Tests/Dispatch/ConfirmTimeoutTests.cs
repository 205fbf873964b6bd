using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Dispatch;

/// <summary>
/// G3 in the dispatcher: the confirm dialog is the one await on a person; a dialog nobody answers must not hold the
/// tool call (or the agent's permission request) for ever. Virtual time: nothing really waits.
/// </summary>
[TestFixture]
[Category("G3")]
[CancelAfter(60_000)]
public sealed class ConfirmTimeoutTests
{
    private FakeTimeProvider _time = null!;
    private AuditLog _audit = null!;
    private DispatchSession _session = null!;
    private VirtualDesktop _desktop = null!;
    private List<ContainmentEvent> _events = null!;
    private CancellationToken _dialogToken;
    private TaskCompletionSource<bool> _dialog = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider();
        _audit = new AuditLog(_time);
        _session = new DispatchSession("s1");
        _desktop = new VirtualDesktop();
        _events = [];
        _dialog = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [TearDown]
    public void TearDown()
    {
        _session.Dispose();
        _audit.Dispose();
    }

    private Dispatcher Create(PolicySet policies)
    {
        var hub = new EventHub();
        hub.Subscribe(e => { lock (_events) { _events.Add(e); } });
        var tools = new HostToolRegistry().Add(new DesktopTool(_desktop, DesktopTool.Press));

        // A dialog that stays open until the test clicks (most tests never do).
        return new Dispatcher(
            new DispatcherOptions
            {
                Policies = policies,
                ConfirmAsync = (_, token) =>
                {
                    _dialogToken = token;
                    return new ValueTask<bool>(_dialog.Task);
                },
            },
            tools, _audit, hub, _time, id => id == "s1" ? _session : null);
    }

    [Test]
    public async Task HandleAsync_ToolConfirmNeverAnswered_DeniedAtTheBound()
    {
        var pending = Create(new PolicySet { SideEffect = ToolPolicy.Confirm }).HandleAsync(Wire.Tool(0, "s1", "t0", DesktopTool.Press, new { target = "Pay" })).AsTask();
        Assert.That(pending.IsCompleted, Is.False, "the dialog is open");

        _time.Advance(DispatcherOptions.DefaultConfirmTimeout);
        var response = Wire.Response(await pending.OrTimeout());

        Assert.That(response.Error?.Code, Is.EqualTo(JsonRpcErrorCodes.Denied), "no answer is a no");
        Assert.That(response.Error!.Message, Does.Contain("within 120 s"));
        Assert.That(_desktop.Count, Is.Zero);
        Assert.That(_audit.Snapshot().Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Denied }));
        Assert.That(_audit.Snapshot()[^1].Detail, Does.Contain("no answer from the user within 120 s"));
        Assert.That(_events.OfType<ConfirmTimedOut>().Single(), Has.Property("ToolCallId").EqualTo("t0").And.Property("Timeout").EqualTo(TimeSpan.FromMinutes(2)));
        Assert.That(_dialogToken.IsCancellationRequested, Is.True, "the dialog is told to close");
    }

    [Test]
    public async Task HandleAsync_ToolConfirmAnsweredJustBeforeTheBound_TheAnswerCounts()
    {
        // Not early: one tick before the bound the dialog is still the user's. Had the bound fired, its answer would win.
        var pending = Create(new PolicySet { SideEffect = ToolPolicy.Confirm }).HandleAsync(Wire.Tool(0, "s1", "t0", DesktopTool.Press, new { target = "Pay" })).AsTask();

        _time.Advance(DispatcherOptions.DefaultConfirmTimeout - TimeSpan.FromTicks(1));
        _dialog.SetResult(true);
        var response = Wire.Response(await pending.OrTimeout());

        Assert.That(response.Error, Is.Null);
        Assert.That(_desktop.Count, Is.EqualTo(1));
        Assert.That(_events.OfType<ConfirmTimedOut>(), Is.Empty);
    }

    [Test]
    public void Constructor_NonPositiveConfirmTimeout_Refused()
    {
        Assert.That(
            () => new Dispatcher(new DispatcherOptions { ConfirmTimeout = TimeSpan.Zero }, new HostToolRegistry(), _audit, new EventHub(), _time, _ => null),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("ConfirmTimeout"));
    }

    [Test]
    public async Task HandlePermission_ConfirmNeverAnswered_RejectedAtTheBound()
    {
        var request = Wire.Request(0, AcpMethods.RequestPermission,
            new RequestPermissionRequest("s1", new ToolCallRef("agent-tool-1", "Delete report", "delete"), [new PermissionOption("yes", "Allow", "allow_once"), new PermissionOption("no", "Reject", "reject_once")]),
            AcpJsonContext.Default.RequestPermissionRequest);
        var pending = Create(new PolicySet { Destructive = ToolPolicy.Confirm }).HandleAsync(request).AsTask();
        Assert.That(pending.IsCompleted, Is.False, "the dialog is open");

        _time.Advance(DispatcherOptions.DefaultConfirmTimeout);
        var response = Wire.Response(await pending.OrTimeout());

        // Rejected, not cancelled: 'cancelled' would end the agent's whole turn, as if the user had pressed Stop.
        Assert.That(response.ResultAs(AcpJsonContext.Default.RequestPermissionResponse).Outcome, Is.EqualTo(PermissionOutcome.Selected("no")));
        Assert.That(_audit.Snapshot()[^1].Detail, Is.EqualTo("selected:no (no answer within 120 s)"));
        Assert.That(_events.OfType<ConfirmTimedOut>().Single().ToolCallId, Is.EqualTo("agent-tool-1"));
        Assert.That(_events.OfType<PermissionAnswered>().Single().Outcome, Is.EqualTo("selected:no"));
        Assert.That(_dialogToken.IsCancellationRequested, Is.True, "the dialog is told to close");
    }
}
