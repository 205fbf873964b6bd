using System.Text.Json;
using ContainmentLab.FakeAgent;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>
/// The misbehaviour steps in-process on fake time. Nothing waits on the clock: a test waits for a line, a notification
/// count or a timer being armed, then advances fake time; an assertion that nothing happened yet holds because nothing
/// can happen before fake time reaches the scripted moment.
/// </summary>
[Category("FakeAgent")]
[CancelAfter(20_000)]
public sealed class FakeAgentMisbehaviourTests
{
    private static readonly TimeSpan s_tick = TimeSpan.FromMilliseconds(1);

    private static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    private static string Steps(string steps, string onCancel = "honour", string header = "") =>
        header + $"on_cancel: {onCancel}\nprompts:\n  - steps:\n" + string.Join('\n', steps.Split('\n').Select(l => "      " + l)) + "\n";

    private static string StopReason(IncomingMessage response)
    {
        Assert.That(response.Error, Is.Null, () => $"the prompt failed: {response.Error}");
        return response.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason;
    }

    private static SessionUpdateBody[] Updates(FakeAgentHarness h) =>
        h.Client.Notifications.Select(n => n.ParamsAs(AcpJsonContext.Default.SessionNotification).Update).ToArray();

    private static string Describe(SessionUpdateBody u) => $"{u.SessionUpdate} {u.ToolCallId} {u.Status}";

    [Test]
    public async Task AgentTool_Heartbeat_SendsAnUpdateExactlyEveryIntervalThenCompletes()
    {
        await using var h = FakeAgentHarness.Start(Steps("- agent_tool: { title: Deploy, kind: execute, duration: 90s, heartbeat: 30s }\n- say: deployed"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForNotificationsAsync(1, Token);

        var start = Updates(h).Single();
        Assert.That((start.SessionUpdate, start.ToolCallId, start.Title, start.Kind, start.Status), Is.EqualTo((SessionUpdateKinds.ToolCall, "sess-1/t1", "Deploy", "execute", "in_progress")));
        for (var beat = 1; beat <= 2; beat++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(30) - s_tick);
            Assert.That(h.Client.Notifications, Has.Count.EqualTo(beat), $"no heartbeat before {30 * beat}s");
            h.Time.Advance(s_tick);
            await h.Client.WaitForNotificationsAsync(beat + 1, Token);

            var update = Updates(h)[beat];
            Assert.That((update.SessionUpdate, update.ToolCallId, update.Status), Is.EqualTo((SessionUpdateKinds.ToolCallUpdate, "sess-1/t1", "in_progress")));
            Assert.That(update.RawOutput?.GetRawText(), Is.EqualTo($$"""{"heartbeat":{{beat}},"elapsedMs":{{30_000 * beat}}}"""));
        }

        h.Time.Advance(TimeSpan.FromSeconds(30) - s_tick);
        Assert.That(prompt.IsCompleted, Is.False);
        Assert.That(h.Client.Notifications, Has.Count.EqualTo(3), "no heartbeat at the end: the end is 'completed'");
        h.Time.Advance(s_tick);

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(Updates(h).Select(Describe), Is.EqualTo(new[]
        {
            "tool_call sess-1/t1 in_progress",
            "tool_call_update sess-1/t1 in_progress",
            "tool_call_update sess-1/t1 in_progress",
            "tool_call_update sess-1/t1 completed",
            "agent_message_chunk  ",
        }));
    }

    [TestCase("heartbeat: none")]
    [TestCase("kind: read")]
    public async Task AgentTool_NoHeartbeat_SendsNothingUntilCompleted(string extra)
    {
        await using var h = FakeAgentHarness.Start(Steps($"- agent_tool: {{ title: Index, duration: 90s, {extra} }}"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForNotificationsAsync(1, Token);

        h.Time.Advance(TimeSpan.FromSeconds(90) - s_tick);
        Assert.That(h.Client.Notifications, Has.Count.EqualTo(1));
        Assert.That(prompt.IsCompleted, Is.False);
        h.Time.Advance(s_tick);

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(Updates(h).Select(Describe), Is.EqualTo(new[] { "tool_call sess-1/t1 in_progress", "tool_call_update sess-1/t1 completed" }));
    }

    [Test]
    public async Task AgentTool_ForeverWithoutHeartbeat_NeverCompletesAndCancelReportsItFailed()
    {
        await using var h = FakeAgentHarness.Start(Steps("- agent_tool: { title: Hung, duration: forever }"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForNotificationsAsync(1, Token);

        h.Time.Advance(TimeSpan.FromHours(24));
        Assert.That(prompt.IsCompleted, Is.False);
        Assert.That(h.Client.Notifications, Has.Count.EqualTo(1));
        await h.Client.CancelAsync(session, Token);

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.Cancelled));
        Assert.That(Updates(h).Select(Describe), Is.EqualTo(new[] { "tool_call sess-1/t1 in_progress", "tool_call_update sess-1/t1 failed" }), "failed before the answer");
    }

    [Test]
    public async Task AgentTool_HonouredCancel_ReportsFailedAndLeaksNoHeartbeat()
    {
        await using var h = FakeAgentHarness.Start(Steps("- agent_tool: { title: Deploy, kind: execute, duration: forever, heartbeat: 30s }\n- say: never"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForNotificationsAsync(1, Token);
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await h.Client.WaitForNotificationsAsync(2, Token);

        await h.Client.CancelAsync(session, Token);
        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.Cancelled));
        h.Time.Advance(TimeSpan.FromMinutes(5));
        await h.Client.PingAsync(Token);

        Assert.That(Updates(h).Select(Describe), Is.EqualTo(new[]
        {
            "tool_call sess-1/t1 in_progress",
            "tool_call_update sess-1/t1 in_progress",
            "tool_call_update sess-1/t1 failed",
        }));
    }

    [Test]
    public async Task AgentTool_IgnoredCancel_CompletesAsScripted()
    {
        await using var h = FakeAgentHarness.Start(Steps("- agent_tool: { title: Deploy, duration: 10s }", "ignore"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForNotificationsAsync(1, Token);

        await h.Client.CancelAsync(session, Token);
        await h.Client.PingAsync(Token);
        h.Time.Advance(TimeSpan.FromSeconds(10));

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(Updates(h).Select(Describe).Last(), Is.EqualTo("tool_call_update sess-1/t1 completed"));
    }

    [Test]
    public async Task Stall_TenSeconds_WritesNothingAndHoldsTheCancelBackUntilItEnds()
    {
        await using var h = FakeAgentHarness.Start(Steps("- say: before\n- stall: 10s\n- say: after"));
        var session = await h.OpenSessionAsync(Token);
        var timers = h.Time.TimersCreated;
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Time.WaitForTimersAsync(timers + 1, Token);

        await h.Client.CancelAsync(session, Token);
        await h.Client.PingAsync(Token);
        h.Time.Advance(TimeSpan.FromSeconds(10) - s_tick);
        await h.Client.PingAsync(Token);

        Assert.That(prompt.IsCompleted, Is.False, "the cancel waits for the stall");
        Assert.That(h.Log.ToString(), Does.Contain("held back until the stall ends"));
        h.Time.Advance(s_tick);
        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.Cancelled));
        Assert.That(Updates(h).Select(u => u.Text), Is.EqualTo(new[] { "before" }));
    }

    [Test]
    public async Task Stall_NoCancel_GoesOnAfterTheDuration()
    {
        await using var h = FakeAgentHarness.Start(Steps("- stall: 10s\n- say: after"));
        var session = await h.OpenSessionAsync(Token);
        var timers = h.Time.TimersCreated;
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Time.WaitForTimersAsync(timers + 1, Token);

        h.Time.Advance(TimeSpan.FromSeconds(10) - s_tick);
        await h.Client.PingAsync(Token);
        Assert.That(h.Client.Notifications, Is.Empty);
        Assert.That(prompt.IsCompleted, Is.False);
        h.Time.Advance(s_tick);

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(Updates(h).Select(u => u.Text), Is.EqualTo(new[] { "after" }));
    }

    [Test]
    public async Task StopReading_ThirtySeconds_LeavesWritesUnconsumedUntilTheTimePasses()
    {
        await using var h = FakeAgentHarness.Start(Steps("- stop_reading: 30s\n- say: deaf"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);

        // "deaf" is sent after the pause began and its resume timer was armed; the prompt's answer needs no input.
        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(h.Engine.IsInputPaused, Is.True);

        // More than the input pipe holds (64 KiB before its writer must wait): the write completes only once the
        // agent consumes input again, like a host's write to a full OS pipe.
        var noise = string.Join('\n', Enumerable.Repeat("""{"jsonrpc":"2.0","method":"_test/noise"}""", 3000));
        var write = h.Client.WriteRawAsync(noise, Token);
        h.Time.Advance(TimeSpan.FromSeconds(30) - s_tick);

        Assert.That(write.IsCompleted, Is.False, "the agent reads nothing for 30s");
        Assert.That(h.Engine.IsInputPaused, Is.True);
        h.Time.Advance(s_tick);
        await write;
        await h.Client.PingAsync(Token);
        Assert.That(h.Engine.IsInputPaused, Is.False);
    }

    [Test]
    public async Task Initialize_ScriptedError_AnswersThatError()
    {
        await using var h = FakeAgentHarness.Start("initialize: { error: { code: -32603, message: no model } }\n");

        var response = await h.Client.RequestAsync(AcpMethods.Initialize, new InitializeRequest(1, new ClientCapabilities(new FileSystemCapability(true, true), false), new Implementation("t")), AcpJsonContext.Default.InitializeRequest, Token);

        Assert.That((response.Error?.Code, response.Error?.Message), Is.EqualTo((-32603, "no model")));
    }

    [Test]
    public async Task SessionNew_ScriptedError_AnswersThatError()
    {
        await using var h = FakeAgentHarness.Start("session_new: { error: { code: -32000, message: auth required } }\n");
        await h.Client.InitializeAsync(Token);

        var response = await h.Client.RequestAsync(AcpMethods.SessionNew, new NewSessionRequest(FakeAgentHarness.Cwd, []), AcpJsonContext.Default.NewSessionRequest, Token);

        Assert.That((response.Error?.Code, response.Error?.Message), Is.EqualTo((-32000, "auth required")));
        Assert.That(h.Engine.SessionIds, Is.Empty);
    }

    [Test]
    public async Task ExitDuringStartup_OnInitialize_EndsTheOutputWithoutAnswering()
    {
        await using var h = FakeAgentHarness.Start("exit_during_startup: { exit_code: 7 }\n");

        Assert.That(async () => await h.Client.InitializeAsync(Token), Throws.TypeOf<EndOfStreamException>());
        await h.Run.WaitAsync(Token);
        await h.Client.Completion.WaitAsync(Token);
        Assert.That(h.Engine.ExitRequested, Is.EqualTo(ExitRequest.WithCode(7)));
    }

    [Test]
    public async Task ExitDuringStartup_After_HoldsInitializeUntilItDies()
    {
        await using var h = FakeAgentHarness.Start("exit_during_startup: { signal: SIGKILL, after: 500ms }\n");
        var init = h.Client.InitializeAsync(Token);

        // The death timer is armed before the first line is read, so after this answer it exists.
        await h.Client.PingAsync(Token);
        h.Time.Advance(TimeSpan.FromMilliseconds(500) - s_tick);
        await h.Client.PingAsync(Token);
        Assert.That(init.IsCompleted, Is.False);
        h.Time.Advance(s_tick);

        Assert.That(async () => await init, Throws.TypeOf<EndOfStreamException>());
        await h.Run.WaitAsync(Token);
        Assert.That(h.Engine.ExitRequested, Is.EqualTo(ExitRequest.WithSignal("SIGKILL")));
        Assert.That(h.Engine.ExitRequested!.ExitCode, Is.EqualTo(128 + 9));
    }

    [TestCase("{ exit_code: 3 }", 3)]
    [TestCase("{ signal: SIGSEGV }", 128 + 11)]
    public async Task Crash_InProcess_EndsRunAndTheOutputWithoutAnsweringThePrompt(string crash, int exitCode)
    {
        await using var h = FakeAgentHarness.Start(Steps($"- say: about to die\n- crash: {crash}\n- say: never"));
        var session = await h.OpenSessionAsync(Token);

        Assert.That(async () => await h.Client.PromptAsync(session, Token), Throws.TypeOf<EndOfStreamException>());
        await h.Run.WaitAsync(Token);
        Assert.That(h.Engine.ExitRequested?.ExitCode, Is.EqualTo(exitCode));
        Assert.That(Updates(h).Select(u => u.Text), Does.Not.Contain("never"));
    }

    [Test]
    public async Task CloseStdout_Hang_ClientSeesEndOfStreamWhileTheEngineRuns()
    {
        await using var h = FakeAgentHarness.Start(Steps("- say: bye\n- close_stdout: {}\n- say: never"));
        var session = await h.OpenSessionAsync(Token);

        Assert.That(async () => await h.Client.PromptAsync(session, Token), Throws.TypeOf<EndOfStreamException>());
        await h.Client.Completion.WaitAsync(Token);
        await h.Client.CloseInputAsync();

        Assert.That(Updates(h).Select(u => u.Text), Is.EqualTo(new[] { "bye" }), "what was queued before the close is written");
        Assert.That(h.Run.IsCompleted, Is.False, "the agent lives on, reading nothing: not even the end of its input");
        Assert.That(h.Engine.IsInputPaused, Is.True);
        h.Stop();
        await h.Run.WaitAsync(Token);
    }

    [Test]
    public async Task CloseStdout_ThenRead_EndsWhenTheInputEnds()
    {
        await using var h = FakeAgentHarness.Start(Steps("- close_stdout: { then: read }"));
        var session = await h.OpenSessionAsync(Token);

        Assert.That(async () => await h.Client.PromptAsync(session, Token), Throws.TypeOf<EndOfStreamException>());
        await h.Client.CloseInputAsync();

        await h.Run.WaitAsync(Token);
        Assert.That(h.Log.ToString(), Does.Contain("input ended"));
    }

    [Test]
    public async Task Spawn_InProcess_IsRefusedWithALogLineAndTheTurnGoesOn()
    {
        await using var h = FakeAgentHarness.Start(Steps("- spawn: { depth: 2 }\n- say: still here"));
        var session = await h.OpenSessionAsync(Token);

        Assert.That(StopReason(await h.Client.PromptAsync(session, Token)), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(h.Log.ToString(), Does.Contain("spawn refused: an in-process engine starts no processes"));
        Assert.That(h.Log.ToString(), Does.Not.Contain("spawned pid="));
    }
}
