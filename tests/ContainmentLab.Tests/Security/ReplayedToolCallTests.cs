using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// G8/G9: an agent that sends a tool call again — a duplicated line, a reused request id — gets it refused, not run
/// twice. Found by the fuzzer (a duplicated <c>fs/write_text_file</c> line ran twice and left two terminal records).
/// </summary>
[TestFixture]
[Category("G9")]
public sealed class ReplayedToolCallTests
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
        _root = Directory.CreateTempSubdirectory("cl-replayed-call-");
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

    private Dispatcher Create()
    {
        var hub = new EventHub();
        hub.Subscribe(_events.Add);
        var tools = HostToolRegistry.CreateDefault(new Sandbox(_root.FullName), _desktop, _http);
        return new Dispatcher(new DispatcherOptions(), tools, _audit, hub, new FakeTimeProvider(), id => id == "s1" ? _session : null);
    }

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
