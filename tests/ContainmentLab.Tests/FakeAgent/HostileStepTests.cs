using System.Text.Json;
using ContainmentLab.FakeAgent;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>The fake agent's hostile options (session naming, self-answers, repeated answers, ack_and_continue, session_prompts).</summary>
[Category("FakeAgent")]
[CancelAfter(20_000)]
public sealed class HostileStepTests
{
    private static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    private static ScriptStep[] Steps(string yaml) => [.. FakeAgentScript.Parse("prompts:\n  - steps:\n" + yaml, "h.yaml").Prompts[0].Steps];

    [Test]
    public void Parse_HostileOptions_LandOnTheirSteps()
    {
        var steps = Steps("""
                  - say: hi
                    session: sess-9
                  - tool: desktop.press
                    session: sess-2
                  - permission: Delete
                    self_answer: allow
                    session: sess-3
                  - end: end_turn
                    repeat: 3
            """);

        Assert.That(((SayStep)steps[0]).Session, Is.EqualTo("sess-9"));
        Assert.That(((ToolStep)steps[1]).Session, Is.EqualTo("sess-2"));
        Assert.That((PermissionStep)steps[2] with { Location = default }, Is.EqualTo(new PermissionStep("Delete", null, "sess-3", "allow")));
        Assert.That((EndStep)steps[3] with { Location = default }, Is.EqualTo(new EndStep(StopReasons.EndTurn, 3)));
    }

    [Test]
    public void Parse_SessionPromptsAndAckAndContinue()
    {
        var script = FakeAgentScript.Parse("""
            on_cancel: ack_and_continue
            session_prompts:
              sess-2:
                - steps:
                    - say: mine
            prompts:
              - steps:
                  - say: everyone's
            """, "h.yaml");

        Assert.That(script.OnCancel, Is.EqualTo(CancelBehaviour.AckAndContinue));
        Assert.That(((SayStep)script.PromptFor("sess-2", 0).Steps[0]).Text, Is.EqualTo("mine"));
        Assert.That(((SayStep)script.PromptFor("sess-1", 0).Steps[0]).Text, Is.EqualTo("everyone's"));
    }

    [Test]
    public async Task SessionOption_TheMessagesNameTheOtherSession()
    {
        await using var h = FakeAgentHarness.Start("""
            prompts:
              - steps:
                  - say: hi
                    session: sess-9
                  - tool: desktop.press
                    arguments: { target: OK }
                    session: sess-8
                  - tool: fs/read_text_file
                    arguments: { path: a.txt }
                    session: sess-7
                  - end: end_turn
            """);
        var session = await h.OpenSessionAsync(Token);

        await h.Client.PromptAsync(session, Token);

        Assert.That(h.Client.Notifications.Single().ParamsAs(AcpJsonContext.Default.SessionNotification).SessionId, Is.EqualTo("sess-9"));
        var requests = h.Client.ToolRequests;
        Assert.That(requests.Select(r => r.Params.GetProperty("sessionId").GetString()), Is.EqualTo(new[] { "sess-8", "sess-7" }));
        Assert.That(requests[0].Params.GetProperty("toolCallId").GetString(), Is.EqualTo("sess-1/t1"), "the call id stays the turn's own");
    }

    [Test]
    public async Task AckAndContinue_AnswersCancelledThenKeepsCallingTools()
    {
        await using var h = FakeAgentHarness.Start("""
            on_cancel: ack_and_continue
            prompts:
              - steps:
                  - tool: desktop.press
                    arguments: { target: A }
                  - sleep: 1s
                  - tool: desktop.press
                    arguments: { target: B }
                  - say: after
            """);
        var session = await h.OpenSessionAsync(Token);
        var prompt = h.Client.PromptAsync(session, Token);
        await h.Client.WaitForRequestsAsync(1, Token);
        await h.Client.CancelAsync(session, Token);

        var answer = await prompt;

        // The agent arms its 1 s sleep only once tool A's answer reached it: move time on in steps until tool B comes,
        // rather than once, which a sleep armed a moment later would never see.
        await Until.TrueAsync(() =>
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(250));
            return h.Client.ToolRequests.Count >= 2;
        }, "tool B, after the sleep");
        await h.Client.WaitForRequestsAsync(2, Token);
        await h.Client.WaitForNotificationsAsync(1, Token);

        Assert.That(answer.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason, Is.EqualTo(StopReasons.Cancelled));
        Assert.That(h.Client.ToolRequests.Select(r => r.Params.GetProperty("arguments").GetProperty("target").GetString()), Is.EqualTo(new[] { "A", "B" }));
    }

    [Test]
    public async Task SessionPrompts_EachSessionRunsItsOwn()
    {
        await using var h = FakeAgentHarness.Start("""
            session_prompts:
              sess-2:
                - steps:
                    - end: refusal
            prompts:
              - steps:
                  - end: max_tokens
            """);
        await h.Client.InitializeAsync(Token);
        var s1 = await h.Client.NewSessionAsync(FakeAgentHarness.Cwd, Token);
        var s2 = await h.Client.NewSessionAsync(FakeAgentHarness.Cwd, Token);

        var first = await h.Client.PromptAsync(s1, Token);
        var second = await h.Client.PromptAsync(s2, Token);

        Assert.That(first.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason, Is.EqualTo(StopReasons.MaxTokens));
        Assert.That(second.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason, Is.EqualTo(StopReasons.Refusal));
    }
}
