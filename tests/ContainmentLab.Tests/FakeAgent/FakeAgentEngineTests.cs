using System.Text.Json;
using ContainmentLab.FakeAgent;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>
/// The engine in-process over pipes on fake time. Ordering, not timing: the engine cannot send a storm's next call until
/// one is answered, and <see cref="AcpTestClient.PingAsync"/> is a barrier through both directions of the wire.
/// </summary>
[Category("FakeAgent")]
[CancelAfter(20_000)]
public sealed class FakeAgentEngineTests
{
    private static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    private static string Steps(string steps, string onCancel = "honour") =>
        $"on_cancel: {onCancel}\nprompts:\n  - steps:\n" + string.Join('\n', steps.Split('\n').Select(l => "      " + l)) + "\n";

    private static string StopReason(IncomingMessage response)
    {
        Assert.That(response.Error, Is.Null, () => $"the prompt failed: {response.Error}");
        return response.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason;
    }

    private static JsonElement Params(IncomingMessage message) => message.Params;

    [Test]
    public async Task Initialize_Always_AnswersProtocolVersion1AndAgentInfo()
    {
        await using var h = FakeAgentHarness.Start("name: demo\n");

        var response = await h.Client.InitializeAsync(Token);

        Assert.That(response.ProtocolVersion, Is.EqualTo(1));
        Assert.That(response.AgentInfo, Is.EqualTo(new Implementation(FakeAgentEngine.AgentName, "demo")));
    }

    [Test]
    public async Task Initialize_ScriptWithoutName_StillSendsAVersion()
    {
        // ACP v1's Implementation requires both name and version; the official SDK's schema rejects agentInfo without one.
        await using var h = FakeAgentHarness.Start("prompts: []\n");

        var response = await h.Client.InitializeAsync(Token);

        Assert.That(response.AgentInfo, Is.EqualTo(new Implementation(FakeAgentEngine.AgentName, FakeAgentEngine.UnnamedScriptVersion)));
        Assert.That(response.AgentInfo!.Version, Is.Not.Empty);
    }

    [Test]
    public async Task NewSession_TwoSessions_GetUniqueIds()
    {
        await using var h = FakeAgentHarness.Start("prompts: []\n");
        await h.Client.InitializeAsync(Token);

        var first = await h.Client.NewSessionAsync(FakeAgentHarness.Cwd, Token);
        var second = await h.Client.NewSessionAsync(FakeAgentHarness.Cwd, Token);

        Assert.That((first, second), Is.EqualTo(("sess-1", "sess-2")));
        Assert.That(h.Engine.SessionIds, Is.EquivalentTo(new[] { "sess-1", "sess-2" }));
    }

    [Test]
    public async Task NewSession_RelativeCwd_IsInvalidParams()
    {
        await using var h = FakeAgentHarness.Start("prompts: []\n");

        var response = await h.Client.RequestAsync(AcpMethods.SessionNew, new NewSessionRequest("relative/dir", []), AcpJsonContext.Default.NewSessionRequest, Token);

        Assert.That(response.Error?.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidParams));
    }

    [Test]
    public async Task UnknownRequest_Always_AnswersMethodNotFound()
    {
        await using var h = FakeAgentHarness.Start("prompts: []\n");

        // PingAsync asserts -32601 itself.
        await h.Client.PingAsync(Token);
    }

    [Test]
    public async Task MalformedLine_Always_IsLoggedAndSkipped()
    {
        await using var h = FakeAgentHarness.Start("prompts: []\n");

        await h.Client.WriteRawAsync("this is not json", Token);
        await h.Client.WriteRawAsync("""{"jsonrpc":"2.0","method":"_unknown/notification"}""", Token);
        var init = await h.Client.InitializeAsync(Token);

        Assert.That(init.ProtocolVersion, Is.EqualTo(1));
        Assert.That(h.Log.ToString(), Does.Contain("line 1: skipped a malformed line"));
    }

    [Test]
    public async Task Prompt_SayAndHostTool_SendsUpdateAndToolRequestThenEndsTurn()
    {
        await using var h = FakeAgentHarness.Start(Steps("- say: Looking\n- tool: desktop.press\n  arguments: { target: OK }"));
        var session = await h.OpenSessionAsync(Token);

        var stop = StopReason(await h.Client.PromptAsync(session, Token));

        Assert.That(stop, Is.EqualTo(StopReasons.EndTurn));
        var update = h.Client.Notifications.Single();
        Assert.That(update.Method, Is.EqualTo(AcpMethods.SessionUpdate));
        var body = update.ParamsAs(AcpJsonContext.Default.SessionNotification);
        Assert.That((body.SessionId, body.Update.SessionUpdate, body.Update.Text), Is.EqualTo((session, SessionUpdateKinds.AgentMessageChunk, "Looking")));
        var tool = h.Client.Requests.Single();
        Assert.That(tool.Method, Is.EqualTo(AcpMethods.ContainmentTool));
        var call = tool.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest);
        Assert.That((call.SessionId, call.ToolCallId, call.Name), Is.EqualTo((session, "sess-1/t1", "desktop.press")));
        Assert.That(call.Arguments!.Value.GetRawText(), Is.EqualTo("""{"target":"OK"}"""));
    }

    [Test]
    public async Task Prompt_AcpMethodTool_AddsSessionIdAndResolvesRelativePath()
    {
        await using var h = FakeAgentHarness.Start(Steps("- tool: fs/write_text_file\n  arguments: { path: notes.txt, content: hello }"));
        var session = await h.OpenSessionAsync(Token);

        StopReason(await h.Client.PromptAsync(session, Token));

        var request = h.Client.Requests.Single();
        Assert.That(request.Method, Is.EqualTo(AcpMethods.WriteTextFile));
        var write = request.ParamsAs(AcpJsonContext.Default.WriteTextFileRequest);
        Assert.That(write, Is.EqualTo(new WriteTextFileRequest(session, Path.Combine(FakeAgentHarness.Cwd, "notes.txt"), "hello")));
    }

    [Test]
    public async Task Prompt_ToolRefused_CarriesOnToTheEnd()
    {
        await using var h = FakeAgentHarness.Start(Steps("- tool: desktop.press\n- say: after\n- end: max_tokens\n- say: never"));
        h.Client.Handler = _ => AgentReply.Error(JsonRpcErrorCodes.Denied);
        var session = await h.OpenSessionAsync(Token);

        var stop = StopReason(await h.Client.PromptAsync(session, Token));

        Assert.That(stop, Is.EqualTo(StopReasons.MaxTokens));
        Assert.That(h.Client.Notifications.Select(n => n.ParamsAs(AcpJsonContext.Default.SessionNotification).Update.Text), Is.EqualTo(new[] { "after" }));
        Assert.That(h.Engine.GetStats(session), Is.EqualTo(new SessionStats(1, 0, 1, 1)));
    }

    [Test]
    public async Task Prompt_LaterPrompts_RunTheNextEntryAndRepeatTheLast()
    {
        await using var h = FakeAgentHarness.Start("prompts:\n  - steps: [ { say: one } ]\n  - steps: [ { say: two } ]\n");
        var session = await h.OpenSessionAsync(Token);

        for (var i = 0; i < 3; i++)
        {
            StopReason(await h.Client.PromptAsync(session, Token));
        }

        var texts = h.Client.Notifications.Select(n => n.ParamsAs(AcpJsonContext.Default.SessionNotification).Update.Text);
        Assert.That(texts, Is.EqualTo(new[] { "one", "two", "two" }));
    }

    [Test]
    public async Task Prompt_WhileTurnRunning_IsRefusedAndTheTurnGoesOn()
    {
        await using var h = FakeAgentHarness.Start(Steps("- tool: desktop.press"));
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        var first = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(1, Token);

        var second = await h.Client.PromptAsync(session, Token);

        Assert.That(second.Error?.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidRequest));
        Assert.That(first.IsCompleted, Is.False);
        await h.Client.AnswerHeldAsync(AgentReply.Success("{}"), Token);
        Assert.That(StopReason(await first), Is.EqualTo(StopReasons.EndTurn));
        h.Client.Handler = AcpTestClient.DefaultReply;
        Assert.That(StopReason(await h.Client.PromptAsync(session, Token)), Is.EqualTo(StopReasons.EndTurn));
    }

    [Test]
    public async Task Prompt_TwoSessions_RunConcurrently()
    {
        await using var h = FakeAgentHarness.Start(Steps("- tool: desktop.press"));
        h.Client.Handler = _ => AgentReply.Hold;
        var a = await h.OpenSessionAsync(Token);
        var b = await h.Client.NewSessionAsync(FakeAgentHarness.Cwd, Token);

        var promptA = h.Client.PromptAsync(a, Token);
        var promptB = h.Client.PromptAsync(b, Token);
        await h.Client.WaitForRequestsAsync(2, Token);

        Assert.That(h.Client.Held.Select(r => r.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest).SessionId), Is.EquivalentTo(new[] { a, b }));
        await h.Client.AnswerHeldAsync(AgentReply.Success("{}"), Token);
        Assert.That(StopReason(await promptA), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(StopReason(await promptB), Is.EqualTo(StopReasons.EndTurn));
    }

    [Test]
    public async Task Sleep_TwoSeconds_WaitsForFakeTimeOnly()
    {
        await using var h = FakeAgentHarness.Start(Steps("- sleep: 2s\n- say: awake"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);

        // The sleep's timer is armed on the turn's own task, at a moment the test cannot observe; so advance in small
        // steps until the answer comes. Whenever the timer was armed, at least 2s of fake time must have passed.
        var advanced = TimeSpan.Zero;
        while (!prompt.IsCompleted)
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(100));
            advanced += TimeSpan.FromMilliseconds(100);
            await h.Client.PingAsync(Token);
        }

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(advanced, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(h.Client.Notifications, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Storm_AnswersAtOnce_SendsExactlyCountAndNeverMoreThanConcurrency()
    {
        await using var h = FakeAgentHarness.Start(Steps("- storm: { count: 500, concurrency: 8, tools: [desktop.press, desktop.set_value, desktop.key], seed: 42 }"));
        var n = 0;
        h.Client.Handler = _ => Interlocked.Increment(ref n) % 7 == 0 ? AgentReply.Error(JsonRpcErrorCodes.Denied) : AgentReply.Success("{}");
        var session = await h.OpenSessionAsync(Token);

        var stop = StopReason(await h.Client.PromptAsync(session, Token));

        Assert.That(stop, Is.EqualTo(StopReasons.EndTurn));
        Assert.That(h.Client.ToolRequests, Has.Count.EqualTo(500));
        var stats = h.Engine.GetStats(session);
        Assert.That((stats.ToolRequestsSent, stats.SuccessResponses, stats.ErrorResponses), Is.EqualTo((500, 500 - (500 / 7), 500 / 7)));
        Assert.That(stats.MaxOutstanding, Is.InRange(1, 8));
        Assert.That(h.Client.MaxOutstandingTools, Is.InRange(1, 8));
        var ids = h.Client.ToolRequests.Select(r => r.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest).ToolCallId).ToArray();
        Assert.That(ids, Is.Unique);
    }

    [Test]
    public async Task Storm_OneAnswer_ReleasesExactlyOneMoreCall()
    {
        await using var h = FakeAgentHarness.Start(Steps("- storm: { count: 10, concurrency: 4, tools: [desktop.key] }"));
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);

        for (var answered = 0; answered < 10; answered++)
        {
            var expected = Math.Min(answered + 4, 10);
            await h.Client.WaitForRequestsAsync(expected, Token);
            await h.Client.PingAsync(Token);
            Assert.That(h.Client.Requests, Has.Count.EqualTo(expected));
            Assert.That(h.Client.Held, Has.Count.EqualTo(expected - answered));
            await h.Client.AnswerAsync(h.Client.Held[0], answered % 2 == 0 ? AgentReply.Success("{}") : AgentReply.Error(JsonRpcErrorCodes.Denied), Token);
        }

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(h.Engine.GetStats(session), Is.EqualTo(new SessionStats(10, 5, 5, 4)));
    }

    [Test]
    public async Task Storm_SameSeed_SameArguments()
    {
        const string storm = "- storm: { count: 40, concurrency: 3, tools: { desktop.press: 2, desktop.set_value: 1, desktop.key: 1, fs/write_text_file: 1 }, seed: 7 }";

        var first = await RunStormAsync(storm);
        var again = await RunStormAsync(storm);
        var otherSeed = await RunStormAsync(storm.Replace("seed: 7", "seed: 8", StringComparison.Ordinal));

        Assert.That(again, Is.EqualTo(first));
        Assert.That(otherSeed, Is.Not.EqualTo(first));
        Assert.That(first.Select(c => c.Split(' ')[0]).Distinct(), Is.EquivalentTo(new[] { "desktop.press", "desktop.set_value", "desktop.key", AcpMethods.WriteTextFile }));
    }

    [Test]
    public async Task Storm_HttpAndFileTools_GenerateTheDocumentedArguments()
    {
        var calls = await RunStormAsync("- storm: { count: 6, tools: [http.request, fs/read_text_file], http_url: \"http://127.0.0.1:9/get\", seed: 3 }");

        foreach (var call in calls)
        {
            var (name, json) = (call[..call.IndexOf(' ', StringComparison.Ordinal)], JsonDocument.Parse(call[(call.IndexOf(' ', StringComparison.Ordinal) + 1)..]).RootElement);
            if (name == "http.request")
            {
                Assert.That(json.GetProperty("method").GetString(), Is.EqualTo("GET"));
                Assert.That(json.GetProperty("url").GetString(), Does.Match(@"^http://127\.0\.0\.1:9/get\?n=[0-5]$"));
            }
            else
            {
                Assert.That(name, Is.EqualTo(AcpMethods.ReadTextFile));
                Assert.That(json.GetProperty("sessionId").GetString(), Is.EqualTo("sess-1"));
                Assert.That(json.GetProperty("path").GetString(), Does.StartWith(FakeAgentHarness.Cwd + Path.DirectorySeparatorChar));
            }
        }
    }

    [Test]
    public async Task Storm_ReportToolCalls_SendsToolCallAndUpdatePerCall()
    {
        await using var h = FakeAgentHarness.Start(Steps("- storm: { count: 3, concurrency: 1, tools: [desktop.key], report_tool_calls: true }"));
        h.Client.Handler = r => r.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest).ToolCallId.EndsWith("t2", StringComparison.Ordinal) ? AgentReply.Error(JsonRpcErrorCodes.ToolFailed) : AgentReply.Success("{}");
        var session = await h.OpenSessionAsync(Token);

        StopReason(await h.Client.PromptAsync(session, Token));

        var updates = h.Client.Notifications.Select(n => n.ParamsAs(AcpJsonContext.Default.SessionNotification).Update).Select(u => $"{u.SessionUpdate} {u.ToolCallId} {u.Status}");
        Assert.That(updates, Is.EqualTo(new[]
        {
            "tool_call sess-1/t1 in_progress", "tool_call_update sess-1/t1 completed",
            "tool_call sess-1/t2 in_progress", "tool_call_update sess-1/t2 failed",
            "tool_call sess-1/t3 in_progress", "tool_call_update sess-1/t3 completed",
        }));
    }

    [Test]
    public async Task Cancel_Honour_AnswersCancelledAtOnceAndSendsNoMore()
    {
        await using var h = FakeAgentHarness.Start(Steps("- storm: { count: 100, concurrency: 4, tools: [desktop.press] }\n- say: never"));
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(4, Token);

        await h.Client.CancelAsync(session, Token);

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.Cancelled));
        await h.Client.AnswerHeldAsync(AgentReply.Success("{}"), Token);
        await h.Client.PingAsync(Token);
        Assert.That(h.Client.Requests, Has.Count.EqualTo(4));
        Assert.That(h.Client.Notifications, Is.Empty);
        Assert.That(h.Engine.GetStats(session), Is.EqualTo(new SessionStats(4, 4, 0, 4)));
    }

    [Test]
    public async Task Cancel_Honour_SessionTakesTheNextPrompt()
    {
        await using var h = FakeAgentHarness.Start("prompts:\n  - steps: [ { tool: desktop.press } ]\n  - steps: [ { say: second } ]\n");
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(1, Token);
        await h.Client.CancelAsync(session, Token);
        StopReason(await prompt);

        var next = StopReason(await h.Client.PromptAsync(session, Token));

        Assert.That(next, Is.EqualTo(StopReasons.EndTurn));
        Assert.That(h.Client.Notifications.Single().ParamsAs(AcpJsonContext.Default.SessionNotification).Update.Text, Is.EqualTo("second"));
    }

    [Test]
    public async Task Cancel_Ignore_TurnEndsAsScripted()
    {
        await using var h = FakeAgentHarness.Start(Steps("- storm: { count: 10, concurrency: 2, tools: [desktop.press] }\n- say: done", "ignore"));
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(2, Token);

        await h.Client.CancelAsync(session, Token);
        await h.Client.PingAsync(Token);
        h.Client.Handler = AcpTestClient.DefaultReply;
        await h.Client.AnswerHeldAsync(AgentReply.Success("{}"), Token);

        Assert.That(StopReason(await prompt), Is.EqualTo(StopReasons.EndTurn));
        Assert.That(h.Client.Requests, Has.Count.EqualTo(10));
        Assert.That(h.Client.Notifications, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Cancel_Hang_StopsWorkAndNeverAnswers()
    {
        await using var h = FakeAgentHarness.Start(Steps("- storm: { count: 10, concurrency: 2, tools: [desktop.press] }", "hang"));
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(2, Token);

        await h.Client.CancelAsync(session, Token);
        await h.Client.PingAsync(Token);
        await h.Client.AnswerHeldAsync(AgentReply.Success("{}"), Token);
        h.Time.Advance(TimeSpan.FromHours(1));
        await h.Client.PingAsync(Token);

        Assert.That(prompt.IsCompleted, Is.False);
        Assert.That(h.Client.Requests, Has.Count.EqualTo(2));
        var again = await h.Client.PromptAsync(session, Token);
        Assert.That(again.Error?.Code, Is.EqualTo(JsonRpcErrorCodes.InvalidRequest), "a hung turn keeps its session busy");
    }

    [TestCase("{ ack_after: 1.5s }", StopReasons.Cancelled)]
    [TestCase("{ ack_after: 1.5s, stop_reason: end_turn }", StopReasons.EndTurn)]
    public async Task Cancel_AckAfter_AnswersAfterTheDelayOnTheTimeProvider(string onCancel, string expected)
    {
        await using var h = FakeAgentHarness.Start(Steps("- storm: { count: 10, concurrency: 2, tools: [desktop.press] }", onCancel));
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(2, Token);

        await h.Client.CancelAsync(session, Token);
        await h.Client.PingAsync(Token);
        await h.Client.AnswerHeldAsync(AgentReply.Success("{}"), Token);
        h.Time.Advance(TimeSpan.FromMilliseconds(1499));
        await h.Client.PingAsync(Token);

        Assert.That(prompt.IsCompleted, Is.False);
        Assert.That(h.Client.Requests, Has.Count.EqualTo(2), "no work after the cancel");
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(StopReason(await prompt), Is.EqualTo(expected));
    }

    [Test]
    public async Task Permission_Cancelled_StopsTheTurn()
    {
        await using var h = FakeAgentHarness.Start(Steps("- permission: { title: Delete the report, kind: delete }\n- tool: desktop.press", "ignore"));
        h.Client.Handler = _ => AgentReply.Success("""{"outcome":{"outcome":"cancelled"}}""");
        var session = await h.OpenSessionAsync(Token);

        var stop = StopReason(await h.Client.PromptAsync(session, Token));

        Assert.That(stop, Is.EqualTo(StopReasons.Cancelled));
        var permission = h.Client.Requests.Single().ParamsAs(AcpJsonContext.Default.RequestPermissionRequest);
        Assert.That((permission.SessionId, permission.ToolCall.Title, permission.ToolCall.Kind), Is.EqualTo((session, "Delete the report", "delete")));
        Assert.That(permission.Options.Select(o => o.Kind), Is.EqualTo(new[] { "allow_once", "reject_once" }));
        Assert.That(h.Engine.GetStats(session).ToolRequestsSent, Is.Zero);
    }

    [Test]
    public async Task Permission_RejectOnce_ContinuesTheTurn()
    {
        await using var h = FakeAgentHarness.Start(Steps("- permission: { title: Delete the report }\n- tool: desktop.press"));
        h.Client.Handler = r => r.Method == AcpMethods.RequestPermission
            ? AgentReply.Success("""{"outcome":{"outcome":"selected","optionId":"reject"}}""")
            : AgentReply.Success("{}");
        var session = await h.OpenSessionAsync(Token);

        var stop = StopReason(await h.Client.PromptAsync(session, Token));

        Assert.That(stop, Is.EqualTo(StopReasons.EndTurn));
        Assert.That(h.Client.Requests.Select(r => r.Method), Is.EqualTo(new[] { AcpMethods.RequestPermission, AcpMethods.ContainmentTool }));
    }

    [Test]
    public async Task Run_InputEnds_ReturnsAndStopsRunningTurns()
    {
        await using var h = FakeAgentHarness.Start(Steps("- tool: desktop.press"));
        h.Client.Handler = _ => AgentReply.Hold;
        var session = await h.OpenSessionAsync(Token);
        _ = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(1, Token);

        await h.Client.CloseInputAsync();

        await h.Run.WaitAsync(Token);
        Assert.That(h.Log.ToString(), Does.Contain("input ended"));
    }

    [Test]
    public async Task Run_InputEndsDuringStall_TheStalledTurnIsNotAnsweredWithAnError()
    {
        await using var h = FakeAgentHarness.StartOnSystemTime(Steps("- stall: forever"));
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await Until.TrueAsync(() => h.Log.ToString().Contains("stalls for ever", StringComparison.Ordinal), "the turn stalls");

        await h.Client.CloseInputAsync();

        await h.Run.WaitAsync(Token);
        Assert.That(h.Log.ToString(), Does.Not.Contain("turn failed"));
        Assert.That(prompt.IsCompletedSuccessfully, Is.False, "a turn stopped by shutdown sends no answer, least of all an error");
    }

    /// <summary>Runs one storm on a fresh engine and returns its calls as "name arguments-json", in send order.</summary>
    private static async Task<string[]> RunStormAsync(string stormStep)
    {
        await using var h = FakeAgentHarness.Start(Steps(stormStep));
        var session = await h.OpenSessionAsync(Token);
        StopReason(await h.Client.PromptAsync(session, Token));
        return h.Client.ToolRequests.Select(r => r.Method == AcpMethods.ContainmentTool
            ? r.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest) is var c ? $"{c.Name} {c.Arguments?.GetRawText()}" : string.Empty
            : $"{r.Method} {Params(r).GetRawText()}").ToArray();
    }
}
