using ContainmentLab.FakeAgent;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>The script keys of the misbehaviours: what they build, and where a bad one is reported.</summary>
[Category("FakeAgent")]
public sealed class FakeAgentScriptMisbehaviourTests
{
    private static string Step(string step) => "prompts:\n  - steps:\n      - " + step + "\n";

    private static ScriptStep ParseStep(string step) => FakeAgentScript.Parse(Step(step), "t.yaml").Prompts[0].Steps.Single();

    [TestCase("agent_tool: { title: Deploy, kind: execute, duration: 90s, heartbeat: 30s }", "Deploy", "execute", 90_000, 30_000)]
    [TestCase("agent_tool: { title: Deploy, duration: 90s, heartbeat: none }", "Deploy", "other", 90_000, null)]
    [TestCase("agent_tool: { title: Deploy, duration: 2m }", "Deploy", "other", 120_000, null)]
    [TestCase("agent_tool: { title: Hung, duration: forever, heartbeat: 1.5s }", "Hung", "other", null, 1_500)]
    public void Parse_AgentTool_ReadsTitleKindDurationAndHeartbeat(string step, string title, string kind, int? durationMs, int? heartbeatMs)
    {
        var tool = (AgentToolStep)ParseStep(step);

        Assert.That((tool.Title, tool.Kind), Is.EqualTo((title, kind)));
        Assert.That(tool.Duration, Is.EqualTo(durationMs is { } d ? TimeSpan.FromMilliseconds(d) : (TimeSpan?)null));
        Assert.That(tool.Heartbeat, Is.EqualTo(heartbeatMs is { } h ? TimeSpan.FromMilliseconds(h) : (TimeSpan?)null));
    }

    [TestCase("stall: 10s", 10_000)]
    [TestCase("stall: forever", null)]
    public void Parse_Stall_ReadsDurationOrForever(string step, int? milliseconds) =>
        Assert.That(((StallStep)ParseStep(step)).Duration, Is.EqualTo(milliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null));

    [TestCase("stop_reading: 30s", 30_000)]
    [TestCase("stop_reading: forever", null)]
    public void Parse_StopReading_ReadsDurationOrForever(string step, int? milliseconds) =>
        Assert.That(((StopReadingStep)ParseStep(step)).Duration, Is.EqualTo(milliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null));

    [Test]
    public void Parse_Crash_ReadsExitCodeOrSignal()
    {
        Assert.That(((CrashStep)ParseStep("crash: { exit_code: 3 }")).Exit, Is.EqualTo(new ExitRequest(3)));
        Assert.That(((CrashStep)ParseStep("crash: { signal: SIGKILL }")).Exit, Is.EqualTo(new ExitRequest(137, "SIGKILL")));
        Assert.That(((CrashStep)ParseStep("crash: { signal: SIGSEGV }")).Exit.SignalNumber, Is.EqualTo(11));
    }

    [TestCase("close_stdout: {}", AfterCloseStdout.Hang)]
    [TestCase("close_stdout: { then: hang }", AfterCloseStdout.Hang)]
    [TestCase("close_stdout: { then: read }", AfterCloseStdout.Read)]
    public void Parse_CloseStdout_ReadsThen(string step, AfterCloseStdout then) =>
        Assert.That(((CloseStdoutStep)ParseStep(step)).Then, Is.EqualTo(then));

    [TestCase("spawn: { depth: 2, ignore_sigterm: true }", 2, true)]
    [TestCase("spawn: {}", 1, false)]
    public void Parse_Spawn_ReadsDepthAndIgnoreSigterm(string step, int depth, bool ignoreSigterm) =>
        Assert.That(ParseStep(step), Is.EqualTo(new SpawnStep(depth, ignoreSigterm) { Location = new ScriptLocation("t.yaml", 3, 9) }));

    [Test]
    public void Parse_StartupOptions_ReadErrorsAndExit()
    {
        var script = FakeAgentScript.Parse("""
            initialize: { error: { code: -32603, message: "no model" } }
            session_new: { error: { code: -32000 } }
            exit_during_startup: { exit_code: 7, after: 250ms }
            """, "t.yaml");

        Assert.That(script.InitializeError, Is.EqualTo(new ScriptedError(-32603, "no model")));
        Assert.That(script.SessionNewError, Is.EqualTo(new ScriptedError(-32000, "scripted failure")));
        Assert.That(script.ExitDuringStartup, Is.EqualTo(new StartupExit(new ExitRequest(7), TimeSpan.FromMilliseconds(250))));
        Assert.That(FakeAgentScript.Parse("exit_during_startup: { signal: SIGTERM }\n", "t.yaml").ExitDuringStartup, Is.EqualTo(new StartupExit(new ExitRequest(143, "SIGTERM"), null)));
    }

    [Test]
    public void Parse_NoStartupOptions_AnswersNormally()
    {
        var script = FakeAgentScript.Parse("prompts: []\n", "t.yaml");

        Assert.That((script.InitializeError, script.SessionNewError, script.ExitDuringStartup), Is.EqualTo(((ScriptedError?)null, (ScriptedError?)null, (StartupExit?)null)));
    }

    [TestCase("agent_tool: { duration: 1s }", "t.yaml:3:21: agent_tool needs 'title'")]
    [TestCase("agent_tool: { title: Deploy }", "t.yaml:3:21: agent_tool needs 'duration' (a duration or forever)")]
    [TestCase("agent_tool: { title: Deploy, duration: soon }", "t.yaml:3:48: duration must be a duration such as 150ms, 2s, 1.5s or 1m (or forever); got 'soon'")]
    [TestCase("agent_tool: { title: Deploy, duration: 1s, heartbeat: never }", "t.yaml:3:63: heartbeat must be a duration such as 150ms, 2s, 1.5s or 1m (or none); got 'never'")]
    [TestCase("agent_tool: { title: Deploy, duration: 1s, heartbeat: 0s }", "t.yaml:3:63: heartbeat must be longer than 0 (or none)")]
    [TestCase("agent_tool: { title: Deploy, kind: deploy, duration: 1s }", "t.yaml:3:44: agent_tool kind must be one of read, edit, delete, move, search, execute, think, fetch, other; got 'deploy'")]
    [TestCase("agent_tool: { title: Deploy, duration: 1s, beat: 1s }", "t.yaml:3:52: unknown key 'beat' in agent_tool; expected title, kind, duration, heartbeat")]
    [TestCase("stall: always", "t.yaml:3:16: stall must be a duration such as 150ms, 2s, 1.5s or 1m (or forever); got 'always'")]
    [TestCase("stall: \"forever\"", "t.yaml:3:16: stall must be a duration such as 150ms, 2s, 1.5s or 1m (or forever); got 'forever'")]
    [TestCase("stop_reading: [30s]", "t.yaml:3:23: stop_reading must be a single value; got a list")]
    [TestCase("crash: {}", "t.yaml:3:16: crash needs 'exit_code: N' or 'signal: NAME'")]
    [TestCase("crash: 3", "t.yaml:3:16: crash must be a mapping; got '3'")]
    [TestCase("crash: { exit_code: 300 }", "t.yaml:3:29: exit_code must be between 0 and 255; got 300")]
    [TestCase("crash: { signal: SIGFOO }", "t.yaml:3:26: signal must be one of SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGKILL, SIGSEGV, SIGTERM; got 'SIGFOO'")]
    [TestCase("crash: { exit_code: 3, signal: SIGKILL }", "t.yaml:3:40: crash takes exit_code or signal, not both")]
    [TestCase("close_stdout: { then: exit }", "t.yaml:3:31: then must be hang or read; got 'exit'")]
    [TestCase("close_stdout:", "t.yaml:3:22: close_stdout must be a mapping; got ''")]
    [TestCase("spawn: { depth: 0 }", "t.yaml:3:25: depth must be between 1 and 8; got 0")]
    [TestCase("spawn: { ignore_sigterm: yes }", "t.yaml:3:34: ignore_sigterm must be true or false; got 'yes'")]
    public void Parse_BadMisbehaviourStep_ReportsWhereAndWhat(string step, string expected)
    {
        Assert.That(() => FakeAgentScript.Parse(Step(step), "t.yaml"), Throws.TypeOf<ScriptException>().With.Message.EqualTo(expected));
    }

    [TestCase("initialize: { error: { message: boom } }\n", "t.yaml:1:22: error needs 'code'")]
    [TestCase("initialize: { fail: true }\n", "t.yaml:1:15: unknown key 'fail' in initialize; expected error")]
    [TestCase("initialize: {}\n", "t.yaml:1:13: initialize needs 'error: { code: N, message: TEXT }'")]
    [TestCase("session_new: { error: { code: x } }\n", "t.yaml:1:31: code must be an integer; got 'x'")]
    [TestCase("exit_during_startup: { after: 1s }\n", "t.yaml:1:22: exit_during_startup needs 'exit_code: N' or 'signal: NAME'")]
    [TestCase("exit_during_startup: { exit_code: 7, after: later }\n", "t.yaml:1:45: after must be a duration such as 150ms, 2s, 1.5s or 1m; got 'later'")]
    [TestCase("exit_during_startup: { exit_code: 7, when: now }\n", "t.yaml:1:38: unknown key 'when' in exit_during_startup; expected exit_code, signal, after")]
    public void Parse_BadStartupOption_ReportsWhereAndWhat(string yaml, string expected)
    {
        Assert.That(() => FakeAgentScript.Parse(yaml, "t.yaml"), Throws.TypeOf<ScriptException>().With.Message.EqualTo(expected));
    }

    [TestCase("long-deploy.yaml", typeof(AgentToolStep))]
    [TestCase("wedged-pipe.yaml", typeof(StopReadingStep))]
    [TestCase("crash-mid-turn.yaml", typeof(CrashStep))]
    [TestCase("close-stdout.yaml", typeof(CloseStdoutStep))]
    [TestCase("orphans.yaml", typeof(SpawnStep))]
    public void Load_MisbehaviourExample_IsValidAndUsesItsStep(string name, Type stepType)
    {
        var script = FakeAgentScript.Load(Path.Combine(RepositoryPaths.Root, "fixtures", "scripts", name));

        Assert.That(script.Prompts.SelectMany(p => p.Steps).Select(s => s.GetType()), Does.Contain(stepType));
    }

    [Test]
    public void Load_StartupFailureExample_FailsSessionNew()
    {
        var script = FakeAgentScript.Load(Path.Combine(RepositoryPaths.Root, "fixtures", "scripts", "startup-failure.yaml"));

        Assert.That(script.SessionNewError, Is.EqualTo(new ScriptedError(-32603, "model not loaded")));
    }
}
