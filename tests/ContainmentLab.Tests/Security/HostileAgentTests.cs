using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// G9: a hostile agent (the in-process fake agent, on a fake clock) writes what a well-behaved one never would. Each
/// case: a ProtocolViolation naming the wire line, an error answer for every request, no dispatch, and a second session
/// whose turn completes normally in the same run.
/// </summary>
[TestFixture]
[Category("G9")]
[CancelAfter(60_000)]
public sealed class HostileAgentTests
{
    /// <summary>sess-1 runs <paramref name="hostileSteps"/>; every other session one press and end_turn.</summary>
    private static string Script(string hostileSteps, string extra = "") => $$"""
        {{extra}}
        session_prompts:
          sess-1:
            - steps:
        {{Indent(hostileSteps, 8)}}
        prompts:
          - steps:
              - tool: desktop.press
                arguments: { target: Other }
              - end: end_turn
        """;

    private static string Indent(string text, int spaces) =>
        string.Join('\n', text.Split('\n').Select(l => new string(' ', spaces) + l));

    private static async Task<(InProcessBridge Lab, string S1, string S2)> StartAsync(string script, Func<BridgeOptions, BridgeOptions>? configure = null)
    {
        var lab = await InProcessBridge.StartAsync(script, configure);
        var s1 = await lab.Bridge.NewSessionAsync();
        var s2 = await lab.Bridge.NewSessionAsync();
        Assert.That((s1, s2), Is.EqualTo(("sess-1", "sess-2")));
        return (lab, s1, s2);
    }

    /// <summary>The second session works normally: its turn completes with its one dispatch.</summary>
    private static async Task AssertOtherSessionWorksAsync(InProcessBridge lab, string s2)
    {
        var outcome = await lab.Bridge.PromptAsync(s2, "go").OrTimeout();
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), outcome.Reason);
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn));
        Assert.That(lab.Dispatched(s2), Is.EqualTo(1));
    }

    private static void AssertContained(InProcessBridge lab)
    {
        Assert.That(AuditChecks.NoDispatchAfterInterrupt(lab.Audit), Is.Empty);
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(lab.Audit), Is.Empty);
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Line), Is.All.GreaterThan(0), "every violation names its wire line");
    }

    [Test]
    public async Task MalformedLines_EachAViolation_RequestsAnsweredUnderTheirIds()
    {
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: "{this is not json"
            - raw: '{"jsonrpc":"2.0","id":910,"method":"_containmentlab/tool","params":{"sessionId":"sess-1","name":'
            - raw: '{"id":911,"method":"_containmentlab/tool","params":{}}'
            - raw: '[1,2]'
            - tool: desktop.press
              arguments: { target: OK }
            - end: end_turn
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ProtocolViolation>(), Has.Count.EqualTo(4));
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Line).Distinct().Count(), Is.EqualTo(4));
        Assert.That(lab.Tap.AnsweredWithError("910"), Is.True, "a cut-off request is answered under the id it still shows");
        Assert.That(lab.Tap.AnsweredWithError("911"), Is.True);
        Assert.That(lab.Dispatched(s1), Is.EqualTo(1));
        AssertContained(lab);
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task OversizeLineWithoutNewline_SkippedAsItStreams_TurnGoesOn()
    {
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: { fill: 67108864, newline: false }
            - raw: ""
            - tool: desktop.press
              arguments: { target: OK }
            - end: end_turn
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        var violation = lab.Of<ProtocolViolation>().Single();
        Assert.That(violation.Reason, Does.Contain("67108864 bytes exceeds"));
        Assert.That(lab.Dispatched(s1), Is.EqualTo(1));
        AssertContained(lab);
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task OversizeRequest_AnsweredUnderTheIdInItsHead_NeverDispatched()
    {
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: { text: '{"jsonrpc":"2.0","id":950,"method":"fs/write_text_file","params":{"sessionId":"sess-1","path":"/tmp/big.txt","content":"', newline: false }
            - raw: { fill: 5242880, newline: false }
            - raw: '"}}'
            - end: end_turn
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ProtocolViolation>().Single().Reason, Does.Contain("exceeds"));
        Assert.That(lab.Tap.AnsweredWithError("950"), Is.True, "the agent is not left waiting on a request it cannot know was skipped");
        Assert.That(lab.Dispatched(s1), Is.EqualTo(0));
        AssertContained(lab);
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task OversizePromptAnswer_EndsTheTurnFailedAtOnce_NotByTimeout()
    {
        // Ids: initialize 0, session/new 1 and 2: sess-1's prompt is request 3. Its answer is too long to read; the head
        // says whose it is, so the turn ends Failed instead of waiting for an answer that was skipped.
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: { text: '{"jsonrpc":"2.0","id":3,"result":{"stopReason":"end_turn","pad":"', newline: false }
            - raw: { fill: 5242880, newline: false }
            - raw: '"}}'
            - stall: forever
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Failed));
        Assert.That(outcome.Reason, Does.Contain("exceeds the 4194304-byte limit"));
        Assert.That(lab.Of<ProtocolViolation>().Single().Reason, Does.Contain("exceeds"));
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task DeepNesting_StopsAtTheDepthLimit_RequestAnsweredUnderItsId()
    {
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: { text: '{"jsonrpc":"2.0","id":920,"method":"_containmentlab/tool","params":{"sessionId":"sess-1","toolCallId":"d","name":"desktop.press","arguments":', newline: false }
            - raw: { text: "[", newline: false, repeat: 100000 }
            - raw: ""
            - end: end_turn
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ProtocolViolation>().Single().Reason, Does.Contain("depth"));
        Assert.That(lab.Tap.AnsweredWithError("920"), Is.True);
        Assert.That(lab.Dispatched(s1), Is.EqualTo(0));
        Assert.That(lab.Bridge.Desktop.Count, Is.EqualTo(0));
        AssertContained(lab);
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task InvalidUtf8InARequest_ViolationAndErrorUnderItsId_NothingDispatched()
    {
        // {"jsonrpc":"2.0","id":940,"method":"_containmentlab/tool","params":{"sessionId":"sess-1","toolCallId":"u","name":"desktop.press","arguments":{"target":"<C3 28>"}}}
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: { hex: "7b226a736f6e727063223a22322e30222c226964223a3934302c226d6574686f64223a225f636f6e7461696e6d656e746c61622f746f6f6c222c22706172616d73223a7b2273657373696f6e4964223a22736573732d31222c22746f6f6c43616c6c4964223a2275222c226e616d65223a226465736b746f702e7072657373222c22617267756d656e7473223a7b22746172676574223a22c328227d7d7d" }
            - raw: { hex: "00 ff fe 1b 5b 32 4a 07", repeat: 50 }
            - end: end_turn
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ProtocolViolation>(), Has.Count.EqualTo(51));
        Assert.That(lab.Of<ProtocolViolation>().First().Reason, Does.Contain("invalid UTF-8"));
        Assert.That(lab.Tap.AnsweredWithError("940"), Is.True);
        Assert.That(lab.Dispatched(s1), Is.EqualTo(0));
        AssertContained(lab);
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task GarbageFloodFromAnAgentThatStopsReading_AnswersStayBounded_ThenWedgedAndKilled()
    {
        const int Lines = 50_000;
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var events = new System.Collections.Concurrent.ConcurrentQueue<ContainmentEvent>();
        await using var bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = time,
            SandboxRoot = Directory.CreateTempSubdirectory("cl-flood-").FullName,
            TransportFactory = () => new StreamTransport(async (input, output, ct) =>
            {
                // Answer initialize, then flood unreadable lines and never read again: the host's answers pile up.
                var reader = new StreamReader(input);
                await reader.ReadLineAsync(ct);
                await output.WriteAsync("""{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{},"authMethods":[]}}"""u8.ToArray().Append((byte)'\n').ToArray(), ct);
                var garbage = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{oops\n", 1000)));
                for (var i = 0; i < Lines / 1000; i++)
                {
                    await output.WriteAsync(garbage, ct);
                }

                await output.FlushAsync(ct);
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            }),
        });
        bridge.Events.Subscribe(events.Enqueue);
        await bridge.StartAsync().OrTimeout();
        await Until.TrueAsync(() => events.OfType<ProtocolViolation>().Count() == Lines, "every garbage line reported");

        time.Advance(new BridgeOptions().WriteStallTimeout);
        await Until.TrueAsync(() => events.OfType<AgentWedged>().Any(), "the write stall");

        var wedged = events.OfType<AgentWedged>().Single();
        Assert.That(wedged.QueuedLines, Is.InRange(1, 1024), "null-id answers stop being queued past the cap");
        await Until.TrueAsync(() => events.OfType<AgentExited>().Any(), "the agent killed");
    }

    [Test]
    public async Task UnknownMethods_RequestsGetMethodNotFound_UnknownNotificationIsAViolation_ExtensionNotificationIgnored()
    {
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: '{"jsonrpc":"2.0","id":930,"method":"evil/run","params":{}}'
            - raw: '{"jsonrpc":"2.0","id":931,"method":"_acme/exfiltrate","params":{}}'
            - raw: '{"jsonrpc":"2.0","method":"evil/notify","params":{}}'
            - raw: '{"jsonrpc":"2.0","method":"_acme/ping","params":{}}'
            - end: end_turn
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Reason), Is.EquivalentTo(new[]
        {
            "unknown method 'evil/run'", "unknown method '_acme/exfiltrate'", "unknown notification 'evil/notify'",
        }));
        Assert.That(lab.Tap.AnsweredWithError("930"), Is.True);
        Assert.That(lab.Tap.AnsweredWithError("931"), Is.True);
        AssertContained(lab);
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task UnknownAndDuplicateResponses_AreViolations_AndEndNothing()
    {
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: '{"jsonrpc":"2.0","id":12345,"result":{"stopReason":"end_turn"}}'
            - end: end_turn
              repeat: 3
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();
        await Until.TrueAsync(() => lab.Of<ProtocolViolation>().Count == 3, "three violations");

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Reason), Has.All.Contain("unknown or already answered request id"));
        Assert.That(lab.Of<TurnEnded>(), Has.Count.EqualTo(1));
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task ToolRequestRightAfterThePromptAnswer_FindsNoRunningTurn_Refused()
    {
        // Ids: initialize 0, session/new 1 and 2, so sess-1's prompt is request 3. The agent answers it itself, early, and
        // then asks for a tool: the answer closed the turn in wire order, so the tool is refused however fast it follows.
        var (lab, s1, s2) = await StartAsync(Script("""
            - raw: '{"jsonrpc":"2.0","id":3,"result":{"stopReason":"end_turn"}}'
            - tool: desktop.press
              arguments: { target: Late }
            """));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();
        await Until.TrueAsync(() => lab.Audit.Any(r => r.Kind == AuditKind.Denied), "the late call's record");

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Dispatched(s1), Is.EqualTo(0));
        Assert.That(lab.Bridge.Desktop.Count, Is.EqualTo(0));
        Assert.That(lab.Audit.Single(r => r.Kind == AuditKind.Denied).Detail, Is.EqualTo("no running turn in the session"));
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Reason), Has.Some.Contain("which has no running turn"));
        Assert.That(lab.Tap.AnsweredWithError("0"), Is.True, "the agent's request 0 is answered, with an error");
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task RequestsNamingAnotherSession_IdleOrUnknown_RefusedRecordedNeverDispatched()
    {
        var (lab, s1, s2) = await StartAsync(
            Script("""
                - tool: desktop.press
                  arguments: { target: Theirs }
                  session: sess-2
                - tool: fs/write_text_file
                  arguments: { path: stolen.txt, content: "x" }
                  session: sess-2
                - tool: desktop.press
                  arguments: { target: Nobody }
                  session: sess-999
                - permission: { title: "Delete everything", kind: delete }
                  session: sess-2
                - tool: desktop.press
                  arguments: { target: Mine }
                - end: end_turn
                """),
            o => InProcessBridge.With(o, policies: new PolicySet { Destructive = ToolPolicy.Allow }));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Dispatched(s2), Is.EqualTo(0), "nothing dispatched in the idle session");
        Assert.That(lab.Bridge.Desktop.Snapshot().Select(a => a.Target), Is.EqualTo(new[] { "Mine" }));
        Assert.That(File.Exists(Path.Combine(lab.Bridge.Sandbox.Root, "stolen.txt")), Is.False);
        Assert.That(lab.Of<PermissionAnswered>(), Is.Empty, "no permission asked in a session without a turn");
        Assert.That(lab.Audit.Where(r => r.SessionId == s2).Select(r => (r.Kind, r.Detail)), Is.EqualTo(new[]
        {
            (AuditKind.Denied, "no running turn in the session"),
            (AuditKind.Denied, "no running turn in the session"),
            (AuditKind.Permission, "refused: no running turn"),
        }));
        Assert.That(lab.Audit.Single(r => r.SessionId == "sess-999").Kind, Is.EqualTo(AuditKind.Denied));
        Assert.That(lab.Of<ProtocolViolation>(), Has.Count.EqualTo(4));
        Assert.That(lab.Tap.AnsweredWithError("0") && lab.Tap.AnsweredWithError("1") && lab.Tap.AnsweredWithError("2") && lab.Tap.AnsweredWithError("3"), Is.True);
        AssertContained(lab);
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task RequestNamingAnInterruptedSession_SkippedWithViolation()
    {
        await using var lab = await InProcessBridge.StartAsync("""
            session_prompts:
              sess-2:
                - steps:
                    - tool: desktop.press
                      arguments: { target: Theirs }
                      session: sess-1
                    - end: end_turn
            """);
        var s1 = await lab.Bridge.NewSessionAsync();
        var s2 = await lab.Bridge.NewSessionAsync();
        Assert.That(lab.Bridge.Interrupt(s1), Is.True);

        var outcome = await lab.Bridge.PromptAsync(s2, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ToolSkipped>().Single().SessionId, Is.EqualTo(s1));
        Assert.That(lab.Of<ProtocolViolation>().Single().Reason, Does.Contain("'sess-1', which has no running turn"));
        Assert.That(lab.Bridge.Desktop.Count, Is.EqualTo(0));
        AssertContained(lab);
    }

    [Test]
    public async Task UpdateAndToolCallForASessionThatEndedWithItsAgent_ViolationsNoDispatch()
    {
        // The first agent dies in sess-2's turn; both its sessions are retired. The fresh agent's sess-1 then names the
        // retired sess-2.
        await using var lab = await InProcessBridge.StartAsync("""
            session_prompts:
              sess-2:
                - steps:
                    - crash: { exit_code: 3 }
            prompts:
              - steps:
                  - say: "to a ghost"
                    session: sess-2
                  - tool: desktop.press
                    arguments: { target: Ghost }
                    session: sess-2
                  - end: end_turn
            """);
        _ = await lab.Bridge.NewSessionAsync();
        var doomed = await lab.Bridge.NewSessionAsync();
        var died = await lab.Bridge.PromptAsync(doomed, "die").OrTimeout();
        Assert.That(died.End, Is.EqualTo(TurnEnd.AgentExited));
        var fresh = lab.Bridge.NewSessionAsync();
        await Until.TrueAsync(() => lab.Of<AgentRestarted>().Count == 1, "the restart");
        lab.Time.Advance(lab.Of<AgentRestarted>().Single().Backoff);
        var session = await fresh.OrTimeout();

        var outcome = await lab.Bridge.PromptAsync(session, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Reason), Is.EqualTo(new[]
        {
            "session/update for a session that ended with its agent: 'sess-2'",
            "'desktop.press' names a session that does not exist: 'sess-2'",
        }));
        Assert.That(lab.Bridge.Desktop.Count, Is.Zero);
        // The fresh agent's sess-1 is the bridge's sess-1#2 (the dead agent's sess-1 keeps its handle); the agent counts by its own id.
        Assert.That(session, Is.EqualTo("sess-1#2"));
        Assert.That(lab.Engine.GetStats("sess-1").ErrorResponses, Is.EqualTo(1));
        AssertContained(lab);
    }

    [Test]
    public async Task ToolCallsAfterItsOwnCancelledAnswer_SkippedUpdatesDropped_NoDispatchAfterInterrupt()
    {
        var (lab, s1, s2) = await StartAsync(Script(
            """
            - tool: desktop.press
              arguments: { target: First }
            - sleep: 1s
            - tool: desktop.press
              arguments: { target: After-1 }
            - say: "still here"
            - tool: desktop.key
              arguments: { keys: "ctrl+s" }
            - say: "from nowhere"
              session: sess-77
            - end: end_turn
            """,
            "on_cancel: ack_and_continue"));
        await using var _ = lab;
        var turn = lab.Bridge.PromptAsync(s1, "go");
        var other = lab.Bridge.PromptAsync(s2, "go");
        await Until.TrueAsync(() => lab.Dispatched(s1) == 1, "the first dispatch");

        Assert.That(lab.Bridge.Interrupt(s1), Is.True);
        var outcome = await turn.OrTimeout();
        lab.Time.Advance(TimeSpan.FromSeconds(1));
        await Until.TrueAsync(() => lab.Of<ProtocolViolation>().Count == 4, "four violations after the ack");

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled));
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.Cancelled));
        Assert.That(lab.Of<ToolSkipped>().Select(s => s.Tool), Is.EqualTo(new[] { "desktop.press", "desktop.key" }));
        Assert.That(lab.Bridge.Desktop.Snapshot().Where(a => a.SessionId == s1).Select(a => a.Target), Is.EqualTo(new[] { "First" }));
        Assert.That(lab.Of<ProtocolViolation>().Count(v => v.Reason.Contains("session/update", StringComparison.Ordinal)), Is.EqualTo(2));
        await Until.TrueAsync(() => lab.Engine.GetStats(s1).ErrorResponses == 2, "both late calls answered");
        Assert.That(lab.Engine.GetStats(s1), Is.EqualTo(new ContainmentLab.FakeAgent.SessionStats(3, 1, 2, 1)), "every request the agent sent got its answer");
        AssertContained(lab);
        var second = await other.OrTimeout();
        Assert.That(second.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Dispatched(s2), Is.EqualTo(1));
    }

    [Test]
    public async Task AgentAnswersItsOwnPermissionRequest_GrantsNothing_AndIsAViolation()
    {
        var (lab, s1, s2) = await StartAsync(
            Script("""
                - permission: { title: "Delete the report", kind: delete }
                  self_answer: allow
                - end: end_turn
                """),
            o => InProcessBridge.With(o, policies: new PolicySet { Destructive = ToolPolicy.Deny }));
        await using var _ = lab;

        var outcome = await lab.Bridge.PromptAsync(s1, "go").OrTimeout();

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<PermissionAnswered>().Single().Outcome, Is.EqualTo("selected:reject"), "the host's policy answers, not the agent");
        Assert.That(lab.Of<ProtocolViolation>().Single().Reason, Is.EqualTo("response to an unknown or already answered request id 0"));
        Assert.That(lab.AgentLog.ToString(), Does.Contain("permission answered reject"));
        await AssertOtherSessionWorksAsync(lab, s2);
    }

    [Test]
    public async Task SelfAnswerCarryingThePendingPromptsId_IsTakenAsThePromptsAnswer_AndGrantsNothing()
    {
        // The agent's third request has id 2, the id of the host's pending session/prompt (initialize 0, session/new 1):
        // per JSON-RPC the self-answer is a response to the host's request 2 — a malformed prompt answer, not a grant.
        await using var lab = await InProcessBridge.StartAsync(
            """
            prompts:
              - steps:
                  - tool: desktop.press
                    arguments: { target: A }
                  - tool: desktop.press
                    arguments: { target: B }
                  - permission: { title: "Delete the report", kind: delete }
                    self_answer: allow
                  - end: end_turn
            """,
            o => InProcessBridge.With(o, policies: new PolicySet { Destructive = ToolPolicy.Deny }));
        var session = await lab.Bridge.NewSessionAsync();

        var outcome = await lab.Bridge.PromptAsync(session, "go").OrTimeout();

        // The agent then gets its (rejected) permission answer and answers the prompt itself: a duplicate response.
        await Until.TrueAsync(() => lab.Of<ProtocolViolation>().Count == 2, "the duplicate prompt answer");

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Failed));
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Reason), Has.Exactly(1).StartWith("invalid session/prompt result"));
        Assert.That(lab.Of<ProtocolViolation>().Select(v => v.Reason), Has.Exactly(1).EqualTo("response to an unknown or already answered request id 2"));
        Assert.That(lab.Of<PermissionAnswered>().Single().Outcome, Is.EqualTo("selected:reject"));
        Assert.That(lab.Audit.Where(r => r.Kind == AuditKind.Permission).Select(r => r.Detail), Has.None.EqualTo("selected:allow"));
    }
}
