using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace ContainmentLab.Tests.Dispatch;

/// <summary>
/// G1 at the moment a host tool begins its side effect: the call passed the gate, then the gate closed before the
/// effect. Here the gate closes from a <see cref="ToolDispatched"/> subscriber, after the gate and before the tool,
/// and the session's token is left uncancelled: an interrupt's cancellation reaches a running call's token only
/// later, on the thread pool, so at that moment the gate is all that stands between Stop and the effect. Each case
/// runs once without the interrupt too, to show the effect is really seen when it happens.
/// </summary>
[TestFixture]
[Category("G1")]
[NonParallelizable]
[CancelAfter(30_000)]
public sealed class SideEffectGateTests
{
    private DirectoryInfo _root = null!;
    private AuditLog _audit = null!;
    private DispatchSession _session = null!;
    private VirtualDesktop _desktop = null!;
    private HttpClient _http = null!;
    private WireMockServer _server = null!;
    private Terminals _terminals = null!;
    private HostToolRegistry _tools = null!;

    [SetUp]
    public void SetUp()
    {
        _root = Directory.CreateTempSubdirectory("cl-side-effect-");
        _audit = new AuditLog(new FakeTimeProvider());
        _session = new DispatchSession("s1");
        _desktop = new VirtualDesktop();
        _http = new HttpClient();
        _server = WireMockServer.Start();
        _server.Given(Request.Create().WithPath("/order").UsingPost()).RespondWith(Response.Create().WithStatusCode(201).WithBody("ordered"));
        var sandbox = new Sandbox(_root.FullName);
        _terminals = new Terminals(sandbox);
        _tools = new HostToolRegistry()
            .Add(new WriteTextFileTool(sandbox))
            .Add(new DesktopTool(_desktop, DesktopTool.Press))
            .Add(new HttpRequestTool(_http))
            .AddTerminals(_terminals);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _tools.DisposeAsync();
        await _terminals.DisposeAsync();
        _server.Stop();
        _server.Dispose();
        _http.Dispose();
        _session.Dispose();
        _audit.Dispose();
        _root.Delete(recursive: true);
    }

    private string Marker => Path.Combine(_root.FullName, "ran.marker");

    private IncomingMessage Call(string kind) => kind switch
    {
        "desktop" => Wire.Tool(0, "s1", "t0", DesktopTool.Press, new { target = "Pay" }),
        "fs-write" => Wire.Request(0, AcpMethods.WriteTextFile, new WriteTextFileRequest("s1", "deep/dir/a.txt", "x"), AcpJsonContext.Default.WriteTextFileRequest),
        "http" => Wire.Tool(0, "s1", "t0", HttpRequestTool.ToolName, new { method = "POST", url = _server.Url + "/order", body = "one" }),
        "terminal" => Wire.Request(0, AcpMethods.TerminalCreate, new CreateTerminalRequest("s1", "/bin/sh", ["-c", "touch ran.marker"]), AcpJsonContext.Default.CreateTerminalRequest),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>What the effect left behind, seen from outside the bridge: the desktop, the file system, the server.</summary>
    private async Task<bool> EffectSeenAsync(string kind, bool expectIt)
    {
        switch (kind)
        {
            case "desktop":
                return _desktop.Count > 0;
            case "fs-write":
                return Directory.Exists(Path.Combine(_root.FullName, "deep")) || File.Exists(Path.Combine(_root.FullName, "deep", "dir", "a.txt"));
            case "http":
                return _server.LogEntries.Any();
            default:
                if (expectIt)
                {
                    // The command runs on its own: wait for its file (bounded), only when it is expected.
                    await Until.TrueAsync(() => File.Exists(Marker), "the terminal's command created its file");
                }

                return File.Exists(Marker) || _terminals.Count > 0;
        }
    }

    [Test]
    public async Task HandleAsync_GateClosesBetweenTheGateAndTheEffect_NoEffectAndCanceled(
        [Values("desktop", "fs-write", "http", "terminal")] string kind,
        [Values] bool interrupt)
    {
        var hub = new EventHub();
        hub.Subscribe(e =>
        {
            if (interrupt && e is ToolDispatched)
            {
                _session.Gate.Close(_audit, "s1", "interrupt");
            }
        });
        var dispatcher = new Dispatcher(new DispatcherOptions { Policies = new PolicySet { Destructive = ToolPolicy.Allow } }, _tools, _audit, hub, new FakeTimeProvider(), id => id == "s1" ? _session : null);

        var response = Wire.Response(await dispatcher.HandleAsync(Call(kind)));
        if (interrupt)
        {
            // The rest of the interrupt, late: the token's cancellation and the kills of the session's terminals.
            _session.CancelInFlight();
        }

        var seen = await EffectSeenAsync(kind, expectIt: !interrupt);
        if (!interrupt)
        {
            Assert.That(response.Error, Is.Null, "control: without Stop the tool runs");
            Assert.That(seen, Is.True, "control: the effect is visible when it happens");
            Assert.That(_audit.Snapshot().Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Began, AuditKind.Completed }));
            return;
        }

        Assert.That(seen, Is.False, "no side effect after the gate closed");
        Assert.That(response.Error?.Code, Is.EqualTo(JsonRpcErrorCodes.Interrupted), "the agent gets an error answer");
        Assert.That(_audit.Snapshot().Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Interrupted, AuditKind.Canceled }), "no 'began'");
        Assert.That(_audit.Snapshot()[^1].Detail, Is.EqualTo("interrupted before its side effect began"));
        Assert.That(AuditChecks.NoDispatchAfterInterrupt(_audit.Snapshot()), Is.Empty);
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(_audit.Snapshot()), Is.Empty);
    }

    /// <summary>
    /// The same through the whole bridge, with the real <c>Interrupt</c>, called from the last place before the effect
    /// that a test can reach without a hook in the product: the watchdog arming the call's timer, after the call's own
    /// token was made (so the token's cancellation reaches it only asynchronously). Seen from the wire (the agent's error
    /// answer) and from outside (the desktop, the file system, the HTTP server, the command's file).
    /// </summary>
    [Test]
    [Category("G1")]
    public async Task Interrupt_RightBeforeTheEffect_NoEffect_CallCanceled_AgentAnsweredWithAnError(
        [Values("desktop", "fs-write", "http", "terminal")] string kind)
    {
        var marker = $"began-{Guid.NewGuid():N}.marker";
        var (tool, arguments) = kind switch
        {
            "desktop" => (DesktopTool.Press, "{ target: Pay }"),
            "fs-write" => (AcpMethods.WriteTextFile, $"{{ path: \"{marker}.dir/a.txt\", content: x }}"),
            "http" => (HttpRequestTool.ToolName, $"{{ method: POST, url: \"{_server.Url}/order\", body: one }}"),
            _ => (AcpMethods.TerminalCreate, $"{{ command: /bin/sh, args: [\"-c\", \"touch {marker}\"] }}"),
        };
        var tap = new LineTap();
        var clock = new InterruptingClock();
        await using var lab = await InProcessBridge.StartAsync($$"""
            prompts:
              - steps:
                  - tool: {{tool}}
                    arguments: {{arguments}}
                  - end: end_turn
            """, o => LabOptions.With(o, tap, new PolicySet { Destructive = ToolPolicy.Allow }, timeProvider: clock));
        var session = await lab.Bridge.NewSessionAsync();
        using var arm = lab.Bridge.Events.Subscribe(e =>
        {
            if (e is ToolDispatched)
            {
                clock.OnNextTimerOnThisThread(() => lab.Bridge.Interrupt(session));
            }
        });

        var outcome = await lab.Bridge.PromptAsync(session, "go").OrTimeout();

        Assert.That(clock.Fired, Is.True, "Stop was pressed between the gate and the effect");
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        var root = lab.Bridge.Sandbox.Root;
        var seen = kind switch
        {
            "desktop" => lab.Bridge.Desktop.Count > 0,
            "fs-write" => Directory.Exists(Path.Combine(root, marker + ".dir")),
            "http" => _server.LogEntries.Any(),
            _ => File.Exists(Path.Combine(root, marker)),
        };
        Assert.That(seen, Is.False, "no side effect after Stop");
        var method = kind switch { "fs-write" => AcpMethods.WriteTextFile, "terminal" => AcpMethods.TerminalCreate, _ => AcpMethods.ContainmentTool };
        // The agent may ack the cancel before the call's own answer is written: wait for the writer.
        await Until.TrueAsync(() => tap.AnswerTo(method) is not null, "the call's answer on the wire");
        Assert.That(tap.AnswerTo(method)!.Error, Is.Not.Null, "the agent got an error answer");
        Assert.That(lab.Audit.Where(r => r.Tool == tool).Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Canceled }), "dispatched, never began");
        Assert.That(AuditChecks.NoDispatchAfterInterrupt(lab.Audit), Is.Empty);
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(lab.Audit), Is.Empty);
    }

    /// <summary>A fake clock that runs an action when the next timer is created on the thread that armed it (once).</summary>
    private sealed class InterruptingClock : FakeTimeProvider
    {
        private readonly ThreadLocal<Action?> _armed = new();
        private int _fired;

        public bool Fired => Volatile.Read(ref _fired) != 0;

        public void OnNextTimerOnThisThread(Action action) => _armed.Value = action;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (_armed.Value is { } action)
            {
                _armed.Value = null;
                Interlocked.Exchange(ref _fired, 1);
                action();
            }

            return base.CreateTimer(callback, state, dueTime, period);
        }
    }
}
