using System.Text;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Dispatch;

/// <summary>
/// The <c>terminal/*</c> host tools through a dispatcher, with real processes. Every process group a test starts is
/// killed in TearDown and asserted gone from the process table (leader and every member of its group).
/// </summary>
[TestFixture]
[Category("Process")]
[CancelAfter(30_000)]
public sealed class TerminalToolTests
{
    private const string SleepForever = "sleep 1000";
    private const string SleepWithGrandchild = "sleep 1000 & sleep 1000";

    /// <summary>An orphan (its parent subshell exits at once: only its pgid ties it to us) and a grandchild under a live parent.</summary>
    private const string SleepWithOrphan = "(sleep 1000 &); sh -c 'sleep 1000; true'; true";

    private DirectoryInfo _root = null!;
    private AuditLog _audit = null!;
    private Dictionary<string, DispatchSession> _sessions = null!;
    private HostToolRegistry _tools = null!;
    private Terminals _terminals = null!;
    private List<int> _groups = null!;
    private long _nextId;

    [SetUp]
    public void SetUp()
    {
        Assume.That(File.Exists(Terminal.SetsidPath), $"terminals need {Terminal.SetsidPath} (util-linux)");
        _root = Directory.CreateTempSubdirectory("cl-terminal-test-");
        _audit = new AuditLog(new FakeTimeProvider());
        _sessions = new() { ["s1"] = new DispatchSession("s1"), ["s2"] = new DispatchSession("s2") };
        _terminals = new Terminals(new Sandbox(_root.FullName));
        _tools = new HostToolRegistry().AddTerminals(_terminals);
        _groups = [];
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_tools is null)
        {
            return; // SetUp assumed setsid away
        }

        try
        {
            foreach (var pgid in _groups)
            {
                NativeSignals.SendGroup(pgid, NativeSignals.SigKill);
            }

            await _tools.DisposeAsync();
            await _terminals.DisposeAsync(); // already by the registry: idempotent
            foreach (var pgid in _groups)
            {
                await ProcessGroups.AssertGroupGoneAsync(pgid);
            }
        }
        finally
        {
            foreach (var session in _sessions.Values)
            {
                session.Dispose();
            }

            _audit.Dispose();
            _root.Delete(recursive: true);
        }
    }

    private Dispatcher Create(IToolWatch? watch = null, PolicySet? policies = null) =>
        new(new DispatcherOptions { Policies = policies ?? new PolicySet { Destructive = ToolPolicy.Allow }, Watch = watch },
            _tools, _audit, new EventHub(), new FakeTimeProvider(), id => _sessions.GetValueOrDefault(id));

    private async Task<IncomingMessage> CallAsync(Dispatcher dispatcher, string method, TerminalRequest request) =>
        Wire.Response(await dispatcher.HandleAsync(Wire.Request(_nextId++, method, request, AcpJsonContext.Default.TerminalRequest)));

    /// <summary>Creates a terminal running <paramref name="script"/> under <c>sh -c</c>; remembers its group for TearDown.</summary>
    private async Task<(string Id, int Pgid)> CreateAsync(Dispatcher dispatcher, string script, string session = "s1", long? outputByteLimit = null)
    {
        var request = new CreateTerminalRequest(session, "sh", ["-c", script], OutputByteLimit: outputByteLimit);
        return await CreateAsync(dispatcher, request);
    }

    private async Task<(string Id, int Pgid)> CreateAsync(Dispatcher dispatcher, CreateTerminalRequest request)
    {
        var response = Wire.Response(await dispatcher.HandleAsync(Wire.Request(_nextId++, AcpMethods.TerminalCreate, request, AcpJsonContext.Default.CreateTerminalRequest)));
        Assert.That(response.Error, Is.Null, () => "terminal/create failed: " + response.Error?.Message);
        var id = response.ResultAs(AcpJsonContext.Default.CreateTerminalResponse).TerminalId;
        var pgid = _terminals.ProcessGroupOf(id) ?? throw new AssertionException($"no process group for '{id}'");
        _groups.Add(pgid);
        return (id, pgid);
    }

    private IEnumerable<AuditKind> Kinds() => _audit.Snapshot().Select(r => r.Kind);

    [Test]
    public async Task Create_Echo_OutputAndExitCodeZero()
    {
        var dispatcher = Create();
        var (id, _) = await CreateAsync(dispatcher, "echo hello; echo oops >&2");

        var exit = await CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));
        var output = (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse);

        Assert.That(exit.ResultAs(AcpJsonContext.Default.TerminalExitStatus), Is.EqualTo(new TerminalExitStatus(0)));
        Assert.That(output.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EquivalentTo(new[] { "hello", "oops" }));
        Assert.That(output.Truncated, Is.False);
        Assert.That(output.ExitStatus, Is.EqualTo(new TerminalExitStatus(0)));
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(_audit.Snapshot()), Is.Empty);
    }

    [Test]
    public async Task Create_NonZeroExit_ReportsTheCode()
    {
        var dispatcher = Create();
        var (id, _) = await CreateAsync(dispatcher, "exit 3");

        var exit = await CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));

        Assert.That(exit.ResultAs(AcpJsonContext.Default.TerminalExitStatus), Is.EqualTo(new TerminalExitStatus(3)));
    }

    [Test]
    public async Task Create_CommandLeadsItsOwnSessionAndGroup()
    {
        var (_, pgid) = await CreateAsync(Create(), SleepForever);
        await UntilGroupHasAsync(pgid, 1); // setsid runs in the child after Process.Start returned

        var stat = ProcessGroups.ProcStat(pgid);
        Assert.That(stat, Is.Not.Null);
        Assert.That(stat!.Value.Pgid, Is.EqualTo(pgid), "pgid = pid: setsid made the command the group leader");
        Assert.That(stat.Value.Sid, Is.EqualTo(pgid), "and the session leader");
        Assert.That(ProcessGroups.ProcStat(Environment.ProcessId)!.Value.Pgid, Is.Not.EqualTo(pgid), "not the test host's group");
    }

    [Test]
    public async Task Create_EnvironmentIsAnAllowListPlusTheRequestsEnv()
    {
        const string secret = "CONTAINMENTLAB_TEST_SECRET";
        Environment.SetEnvironmentVariable(secret, "hunter2");
        try
        {
            var dispatcher = Create();
            var request = new CreateTerminalRequest("s1", "sh", ["-c", $"echo \"[$GREETING][${secret}][$PATH]\""], [new EnvVariable("GREETING", "hi")]);
            var (id, _) = await CreateAsync(dispatcher, request);
            await CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));

            var output = (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse).Output;

            Assert.That(output, Does.StartWith("[hi][]["));
            Assert.That(output, Does.Not.Contain("hunter2"));
            Assert.That(output, Does.Not.StartWith("[hi][][]"), "PATH is allowed through");
        }
        finally
        {
            Environment.SetEnvironmentVariable(secret, null);
        }
    }

    [Test]
    public async Task Create_CwdInsideSandbox_RunsThere()
    {
        var dispatcher = Create();
        Directory.CreateDirectory(Path.Combine(_root.FullName, "sub"));
        var (id, _) = await CreateAsync(dispatcher, new CreateTerminalRequest("s1", "pwd", Cwd: "sub"));
        await CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));

        var output = (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse).Output;

        Assert.That(output.TrimEnd('\n'), Is.EqualTo(new Sandbox(_root.FullName).Resolve("sub")));
    }

    [TestCase("..")]
    [TestCase("/")]
    public async Task Create_CwdOutsideSandbox_DeniedAndNothingRuns(string cwd)
    {
        var request = new CreateTerminalRequest("s1", "sh", ["-c", "echo escaped"], Cwd: cwd);

        var response = Wire.Response(await Create().HandleAsync(Wire.Request(0, AcpMethods.TerminalCreate, request, AcpJsonContext.Default.CreateTerminalRequest)));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Denied));
        Assert.That(response.Error.Message, Does.Contain("outside the sandbox root"));
        Assert.That(Kinds(), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Denied }));
        Assert.That(_terminals.Count, Is.Zero);
    }

    [Test]
    public async Task Create_IsDestructive_DefaultPolicyWithoutDialogDenies()
    {
        var request = new CreateTerminalRequest("s1", "true");

        var response = Wire.Response(await Create(policies: new PolicySet()).HandleAsync(Wire.Request(0, AcpMethods.TerminalCreate, request, AcpJsonContext.Default.CreateTerminalRequest)));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Denied));
        Assert.That(_terminals.Count, Is.Zero);
    }

    [Test]
    public async Task Create_BadEnvName_InvalidParams()
    {
        var request = new CreateTerminalRequest("s1", "true", Env: [new EnvVariable("A=B", "x")]);

        var response = Wire.Response(await Create().HandleAsync(Wire.Request(0, AcpMethods.TerminalCreate, request, AcpJsonContext.Default.CreateTerminalRequest)));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidParams));
        Assert.That(_terminals.Count, Is.Zero);
    }

    [Test]
    [Category("G7")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Create_HostCookieSet_EveryProcessOfTheTerminalCarriesIt()
    {
        _terminals.HostCookie = () => "host-cookie-1";
        var dispatcher = Create();
        var (id, pgid) = await CreateAsync(dispatcher, "echo \"[$CONTAINMENTLAB_COOKIE]\"; " + SleepWithGrandchild);
        await UntilOutputContainsAsync(dispatcher, id, "]");
        await UntilGroupHasAsync(pgid, 3);

        var output = (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse).Output;
        var table = new ContainmentLab.Sweep.LinuxProcessTable();

        Assert.That(output, Does.StartWith("[host-cookie-1]"));
        Assert.That(ProcessGroups.GroupMembers(pgid).Where(ProcessGroups.IsAlive).Select(pid => table.HasEnvironmentEntry(pid, ContainmentLab.Sweep.AgentCookie.EnvironmentVariable, "host-cookie-1")),
            Has.All.True, "the sweep finds the whole group by it after the host died");
    }

    [Test]
    [Category("G7")]
    public async Task Create_EnvNamesTheCookie_InvalidParamsAndNothingRuns()
    {
        _terminals.HostCookie = () => "host-cookie-1";
        var request = new CreateTerminalRequest("s1", "true", Env: [new EnvVariable(ContainmentLab.Sweep.AgentCookie.EnvironmentVariable, "")]);

        var response = Wire.Response(await Create().HandleAsync(Wire.Request(0, AcpMethods.TerminalCreate, request, AcpJsonContext.Default.CreateTerminalRequest)));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidParams));
        Assert.That(response.Error.Message, Does.Contain("is the host's"));
        Assert.That(_terminals.Count, Is.Zero);
    }

    [Test]
    public async Task Output_OverTheLimit_TruncatedAtTheFrontOnACharacterBoundary()
    {
        var dispatcher = Create();
        var text = "start" + string.Concat(Enumerable.Repeat("é", 100)) + "end"; // é is 2 bytes
        var (id, _) = await CreateAsync(dispatcher, new CreateTerminalRequest("s1", "printf", ["%s", text], OutputByteLimit: 12));
        await CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));

        var output = (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse);

        Assert.That(output.Truncated, Is.True);
        Assert.That(output.Output, Is.EqualTo("éééé" + "end"), "the newest 12 bytes would start inside an é: cut after it (11 bytes)");
        Assert.That(Encoding.UTF8.GetByteCount(output.Output), Is.LessThanOrEqualTo(12));
    }

    [Test]
    public async Task Output_WhileRunning_HasNoExitStatus()
    {
        var dispatcher = Create();
        var (id, _) = await CreateAsync(dispatcher, "echo ready; sleep 1000");
        await UntilOutputContainsAsync(dispatcher, id, "ready");

        var output = (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse);

        Assert.That(output.ExitStatus, Is.Null);
    }

    [TestCase(SleepForever)]
    [TestCase(SleepWithGrandchild)]
    [TestCase(SleepWithOrphan)]
    public async Task Interrupt_PendingWait_CanceledAndTheWholeGroupIsGone(string script)
    {
        var dispatcher = Create();
        var (id, pgid) = await CreateAsync(dispatcher, script);
        await UntilGroupHasAsync(pgid, Processes(script));
        var members = ProcessGroups.GroupMembers(pgid);
        var waiting = CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));
        Assert.That(waiting.IsCompleted, Is.False);

        // What AcpBridge.Interrupt does.
        _sessions["s1"].Gate.Close(_audit, "s1", "interrupt");
        _sessions["s1"].CancelInFlight();
        var response = await waiting.OrTimeout();

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.RequestCancelled));
        Assert.That(_audit.Snapshot()[^1].Kind, Is.EqualTo(AuditKind.Canceled));
        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
    }

    [Test]
    public async Task Interrupt_NoCallPending_StillKillsTheGroup()
    {
        var dispatcher = Create();
        var (_, pgid) = await CreateAsync(dispatcher, SleepWithGrandchild);
        await UntilGroupHasAsync(pgid, 3);
        var members = ProcessGroups.GroupMembers(pgid);

        _sessions["s1"].Gate.Close(_audit, "s1", "interrupt");
        _sessions["s1"].CancelInFlight();

        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
    }

    [Test]
    public async Task Interrupt_OtherSessionsTerminalKeepsRunning()
    {
        var dispatcher = Create();
        var (_, pgid1) = await CreateAsync(dispatcher, SleepForever);
        var (_, pgid2) = await CreateAsync(dispatcher, SleepForever, "s2");

        _sessions["s1"].Gate.Close(_audit, "s1", "interrupt");
        _sessions["s1"].CancelInFlight();

        await ProcessGroups.AssertGroupGoneAsync(pgid1);
        Assert.That(ProcessGroups.IsAlive(pgid2), Is.True, "G2: s2's terminal is not s1's business");
    }

    [TestCase(SleepForever)]
    [TestCase(SleepWithGrandchild)]
    [TestCase(SleepWithOrphan)]
    [Category("G4")]
    public async Task Watchdog_SilentWait_CanceledAtTheWindowAndTheToolKillsTheGroup(string script)
    {
        // The real watchdog on virtual time. Its onExpired does NOT interrupt the session here (the bridge's does):
        // the group must die because the wait_for_exit tool kills it when its token is cancelled.
        var time = new FakeTimeProvider();
        var expired = new List<string>();
        var watchdog = new Watchdog(new WatchdogOptions(), time, new EventHub(), (session, _) => expired.Add(session));
        var dispatcher = Create(watchdog);
        var (id, pgid) = await CreateAsync(dispatcher, script);
        await UntilGroupHasAsync(pgid, Processes(script));
        var members = ProcessGroups.GroupMembers(pgid);

        var waiting = CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));
        await Until.TrueAsync(() => watchdog.ActiveCount == 1, "the wait is watched");
        time.Advance(TimeSpan.FromSeconds(60) - TimeSpan.FromTicks(1));
        Assert.That(waiting.IsCompleted, Is.False, "cancelled before the window closed");
        time.Advance(TimeSpan.FromTicks(1));
        var response = await waiting.OrTimeout();

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.RequestCancelled));
        Assert.That(_audit.Snapshot()[^1].Detail, Does.StartWith("watchdog:"));
        Assert.That(expired, Is.EqualTo(new[] { "s1" }));
        Assert.That(_sessions["s1"].Gate.IsClosed, Is.False, "the session was not interrupted: the tool killed the group itself");
        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
        Assert.That(watchdog.ActiveCount, Is.Zero, "the watch ended with the call");
    }

    [Test]
    [Category("G4")]
    public async Task Watchdog_OutputKeepsComing_WindowSlides()
    {
        var time = new FakeTimeProvider();
        var watchdog = new Watchdog(new WatchdogOptions(), time, new EventHub(), (_, _) => { });
        var dispatcher = Create(watchdog);
        var (id, pgid) = await CreateAsync(dispatcher, "while :; do echo tick; sleep 0.05; done");
        var waiting = CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));
        await Until.TrueAsync(() => watchdog.ActiveCount == 1, "the wait is watched");

        for (var i = 0; i < 5; i++)
        {
            // 59 s of virtual silence, then real output: each chunk is activity at the advanced time.
            time.Advance(TimeSpan.FromSeconds(59));
            await UntilOutputGrowsTwiceAsync(dispatcher, id);
            Assert.That(waiting.IsCompleted, Is.False, $"cancelled while output kept coming (round {i})");
        }

        NativeSignals.SendGroup(pgid, NativeSignals.SigKill);
        var exit = (await waiting.OrTimeout()).ResultAs(AcpJsonContext.Default.TerminalExitStatus);
        Assert.That(exit.Signal, Is.Null.Or.EqualTo("SIGKILL"));
        Assert.That(exit.ExitCode, Is.Null.Or.EqualTo(137), "an outside SIGKILL: .NET reports 128 + 9");
    }

    [Test]
    public async Task Kill_TerminalStaysReadable()
    {
        var dispatcher = Create();
        var (id, pgid) = await CreateAsync(dispatcher, "echo before; " + SleepWithGrandchild);
        await UntilOutputContainsAsync(dispatcher, id, "before");
        await UntilGroupHasAsync(pgid, 3);
        var members = ProcessGroups.GroupMembers(pgid);

        var kill = await CallAsync(dispatcher, AcpMethods.TerminalKill, new TerminalRequest("s1", id));
        var exit = await CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));
        var output = (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse);

        Assert.That(kill.Error, Is.Null);
        Assert.That(exit.ResultAs(AcpJsonContext.Default.TerminalExitStatus), Is.EqualTo(new TerminalExitStatus(null, "SIGKILL")));
        Assert.That(output.Output, Is.EqualTo("before\n"));
        Assert.That(output.ExitStatus, Is.EqualTo(new TerminalExitStatus(null, "SIGKILL")));
        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
        Assert.That(_terminals.Count, Is.EqualTo(1), "killed, not released");
    }

    [Test]
    [Repeat(5)]
    public async Task Kill_RightAfterCreate_KillsEvenBeforeTheGroupExists()
    {
        // Process.Start returns once setsid is exec'd, maybe before it called setsid(): kill(-pgid) alone would miss.
        var dispatcher = Create();
        var (id, pgid) = await CreateAsync(dispatcher, SleepForever);

        await CallAsync(dispatcher, AcpMethods.TerminalKill, new TerminalRequest("s1", id));
        var exit = await CallAsync(dispatcher, AcpMethods.TerminalWaitForExit, new TerminalRequest("s1", id));

        Assert.That(exit.ResultAs(AcpJsonContext.Default.TerminalExitStatus), Is.EqualTo(new TerminalExitStatus(null, "SIGKILL")));
        await ProcessGroups.AssertGroupGoneAsync(pgid);
    }

    [Test]
    public async Task Release_KillsAndFreesTheTerminal()
    {
        var dispatcher = Create();
        var (id, pgid) = await CreateAsync(dispatcher, SleepWithGrandchild);
        await UntilGroupHasAsync(pgid, 3);
        var members = ProcessGroups.GroupMembers(pgid);

        var release = await CallAsync(dispatcher, AcpMethods.TerminalRelease, new TerminalRequest("s1", id));
        var after = await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id));

        Assert.That(release.Error, Is.Null);
        Assert.That(_terminals.Count, Is.Zero);
        Assert.That(after.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.ToolFailed));
        Assert.That(after.Error.Message, Does.Contain("no terminal"));
        await ProcessGroups.AssertGroupGoneAsync(pgid, members);
    }

    [TestCase(AcpMethods.TerminalOutput)]
    [TestCase(AcpMethods.TerminalWaitForExit)]
    [TestCase(AcpMethods.TerminalKill)]
    [TestCase(AcpMethods.TerminalRelease)]
    public async Task AnotherSessionsTerminal_DeniedAndUntouched(string method)
    {
        var dispatcher = Create();
        var (id, pgid) = await CreateAsync(dispatcher, SleepForever);

        var response = await CallAsync(dispatcher, method, new TerminalRequest("s2", id));

        Assert.That(response.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.Denied));
        Assert.That(response.Error.Message, Does.Contain("another session"));
        Assert.That(_audit.Snapshot()[^1].Kind, Is.EqualTo(AuditKind.Denied));
        Assert.That(ProcessGroups.IsAlive(pgid), Is.True);
        Assert.That(_terminals.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task DisposeRegistry_KillsEveryGroup()
    {
        var dispatcher = Create();
        var (_, pgid1) = await CreateAsync(dispatcher, SleepWithGrandchild);
        var (_, pgid2) = await CreateAsync(dispatcher, SleepForever, "s2");
        await UntilGroupHasAsync(pgid1, 3);
        await UntilGroupHasAsync(pgid2, 1);
        var members1 = ProcessGroups.GroupMembers(pgid1);
        var members2 = ProcessGroups.GroupMembers(pgid2);

        await _tools.DisposeAsync();

        // Each group's members are checked once that group is gone: dispose waits for the leaders only, and the other
        // group's children may still be dying (SIGKILLed, state R, not yet zombies) when the first group is gone.
        await ProcessGroups.AssertGroupGoneAsync(pgid1, members1);
        await ProcessGroups.AssertGroupGoneAsync(pgid2, members2);
        Assert.That(_terminals.Count, Is.Zero);
        var late = Wire.Response(await dispatcher.HandleAsync(Wire.Request(_nextId++, AcpMethods.TerminalCreate, new CreateTerminalRequest("s1", "true"), AcpJsonContext.Default.CreateTerminalRequest)));
        Assert.That(late.Error!.Code, Is.EqualTo(JsonRpcErrorCodes.ToolFailed), "no terminal after dispose");
    }

    [Test]
    public async Task CreateDefault_RegistersTheFiveTerminalMethods()
    {
        using var http = new HttpClient();
        await using var registry = HostToolRegistry.CreateDefault(new Sandbox(_root.FullName), new VirtualDesktop(), http);

        foreach (var method in new[] { AcpMethods.TerminalCreate, AcpMethods.TerminalOutput, AcpMethods.TerminalWaitForExit, AcpMethods.TerminalKill, AcpMethods.TerminalRelease })
        {
            Assert.That(registry.HandlesMethod(method), Is.True, method);
        }
    }

    /// <summary>How many processes each script's group has once it runs (dash forks for every command here).</summary>
    private static int Processes(string script) => script switch
    {
        SleepWithGrandchild => 3,
        SleepWithOrphan => 4,
        _ => 1,
    };

    private static Task UntilGroupHasAsync(int pgid, int count) => ProcessGroups.UntilHasAsync(pgid, count);

    private async Task UntilOutputContainsAsync(Dispatcher dispatcher, string id, string text)
    {
        var deadline = Environment.TickCount64 + 20_000;
        while (!(await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse).Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.That(Environment.TickCount64, Is.LessThan(deadline), $"output never contained '{text}'");
            await Task.Delay(10);
        }
    }

    private async Task UntilOutputGrowsTwiceAsync(Dispatcher dispatcher, string id)
    {
        // Twice: one reader appends and reports in order, so once a second chunk is in, the first one's report (made
        // after the clock moved, since we saw it grow after that) has run.
        for (var i = 0; i < 2; i++)
        {
            var before = await OutputLengthAsync();
            var deadline = Environment.TickCount64 + 20_000;
            while (await OutputLengthAsync() == before)
            {
                Assert.That(Environment.TickCount64, Is.LessThan(deadline), "output stopped growing");
                await Task.Delay(5);
            }
        }

        async Task<int> OutputLengthAsync() =>
            (await CallAsync(dispatcher, AcpMethods.TerminalOutput, new TerminalRequest("s1", id))).ResultAs(AcpJsonContext.Default.TerminalOutputResponse).Output.Length;
    }
}
