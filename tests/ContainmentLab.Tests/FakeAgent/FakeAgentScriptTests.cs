using System.Text.Json;
using ContainmentLab.FakeAgent;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.FakeAgent;

[Category("FakeAgent")]
public sealed class FakeAgentScriptTests
{
    private const string AllSteps = """
        name: storm-demo
        on_cancel: ignore
        prompts:
          - steps:
              - say: "Looking at the screen"
              - tool: desktop.press
                arguments: { target: OK, times: 2, force: true, note: "42" }
              - tool: fs/write_text_file
                arguments: { path: notes.txt, content: hello }
                report_tool_calls: true
              - storm: { count: 500, concurrency: 8, tools: [desktop.press, desktop.set_value, desktop.key], seed: 42 }
              - storm: { count: 3, tools: { http.request: 3, desktop.key: 1 }, http_url: "http://localhost:5000/x", report_tool_calls: true }
              - permission: { title: "Delete the report", kind: delete }
              - sleep: 200ms
              - end: max_tokens
          - steps: []
        """;

    [Test]
    public void Parse_EveryStepKind_BuildsTheSteps()
    {
        var script = FakeAgentScript.Parse(AllSteps, "all.yaml");

        Assert.That(script.Name, Is.EqualTo("storm-demo"));
        Assert.That(script.OnCancel, Is.EqualTo(CancelBehaviour.Ignore));
        Assert.That(script.Prompts, Has.Count.EqualTo(2));
        var steps = script.Prompts[0].Steps;
        Assert.That(steps.Select(s => s.GetType()), Is.EqualTo(new[]
        {
            typeof(SayStep), typeof(ToolStep), typeof(ToolStep), typeof(StormStep), typeof(StormStep), typeof(PermissionStep), typeof(SleepStep), typeof(EndStep),
        }));
        Assert.That(((SayStep)steps[0]).Text, Is.EqualTo("Looking at the screen"));

        var press = (ToolStep)steps[1];
        Assert.That(press.Name, Is.EqualTo("desktop.press"));
        Assert.That(press.ReportToolCall, Is.False);
        Assert.That(press.Arguments!.Value.GetRawText(), Is.EqualTo("""{"target":"OK","times":2,"force":true,"note":"42"}"""));
        Assert.That(((ToolStep)steps[2]).ReportToolCall, Is.True);

        var storm = (StormStep)steps[3];
        Assert.That((storm.Count, storm.Concurrency, storm.Seed, storm.HttpUrl, storm.ReportToolCalls), Is.EqualTo((500, 8, 42, (Uri?)null, false)));
        Assert.That(storm.Tools.Select(t => t.Name), Is.EqualTo(new[] { "desktop.press", "desktop.set_value", "desktop.key" }));

        var weighted = (StormStep)steps[4];
        Assert.That(weighted.Tools, Is.EqualTo(new[] { new WeightedTool("http.request", 3), new WeightedTool("desktop.key", 1) }));
        Assert.That(weighted.Concurrency, Is.EqualTo(1));
        Assert.That(weighted.HttpUrl, Is.EqualTo(new Uri("http://localhost:5000/x")));
        Assert.That(weighted.ReportToolCalls, Is.True);

        Assert.That(steps[5], Is.EqualTo(new PermissionStep("Delete the report", "delete") { Location = steps[5].Location }));
        Assert.That(((SleepStep)steps[6]).Duration, Is.EqualTo(TimeSpan.FromMilliseconds(200)));
        Assert.That(((EndStep)steps[7]).StopReason, Is.EqualTo(StopReasons.MaxTokens));
        Assert.That(steps[1].Location, Is.EqualTo(new ScriptLocation("all.yaml", 6, 9)));
        Assert.That(script.Prompts[1].Steps, Is.Empty);
    }

    [TestCase("honour", CancelMode.Honour)]
    [TestCase("ignore", CancelMode.Ignore)]
    [TestCase("hang", CancelMode.Hang)]
    public void Parse_OnCancelWord_SetsTheMode(string word, CancelMode mode)
    {
        var script = FakeAgentScript.Parse($"on_cancel: {word}\nprompts: []\n", "t.yaml");

        Assert.That(script.OnCancel.Mode, Is.EqualTo(mode));
    }

    [Test]
    public void Parse_NoOnCancel_Honours()
    {
        var script = FakeAgentScript.Parse("prompts: []\n", "t.yaml");

        Assert.That(script.OnCancel, Is.EqualTo(CancelBehaviour.Honour));
    }

    [TestCase("{ ack_after: 1.5s }", 1500, StopReasons.Cancelled)]
    [TestCase("{ ack_after: 1m, stop_reason: end_turn }", 60_000, StopReasons.EndTurn)]
    public void Parse_AckAfter_ReadsDelayAndStopReason(string value, int milliseconds, string stopReason)
    {
        var script = FakeAgentScript.Parse($"on_cancel: {value}\n", "t.yaml");

        Assert.That(script.OnCancel, Is.EqualTo(CancelBehaviour.AckAfter(TimeSpan.FromMilliseconds(milliseconds), stopReason)));
    }

    [TestCase("150ms", 150)]
    [TestCase("2s", 2000)]
    [TestCase("1.5s", 1500)]
    [TestCase("1m", 60_000)]
    public void Parse_Duration_ReadsUnits(string text, int milliseconds)
    {
        var script = FakeAgentScript.Parse($"prompts:\n  - steps:\n      - sleep: {text}\n", "t.yaml");

        Assert.That(((SleepStep)script.Prompts[0].Steps[0]).Duration, Is.EqualTo(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Test]
    public void Parse_TypoedKey_ReportsSourceLineColumn()
    {
        const string yaml = """
            prompts:
              - steps:
                  - tool: desktop.press
                    argumnets: { target: OK }
            """;

        var ex = Assert.Throws<ScriptException>(() => FakeAgentScript.Parse(yaml, "typo.yaml"));

        Assert.That(ex.Message, Is.EqualTo("typo.yaml:4:9: unknown key 'argumnets' in a tool step; expected arguments, report_tool_calls, session"));
        Assert.That((ex.ScriptSource, ex.Line, ex.Column), Is.EqualTo(("typo.yaml", 4L, 9L)));
    }

    [Test]
    public void Parse_WrongType_ReportsSourceLineColumn()
    {
        const string yaml = """
            prompts:
              - steps:
                  - storm: { count: many, tools: [desktop.press] }
            """;

        var ex = Assert.Throws<ScriptException>(() => FakeAgentScript.Parse(yaml, "type.yaml"));

        Assert.That(ex.Message, Is.EqualTo("type.yaml:3:25: count must be an integer; got 'many'"));
    }

    [TestCase("colour: red\n", "t.yaml:1:1: unknown key 'colour' in the script; expected name, on_cancel, prompts")]
    [TestCase("on_cancel: sometimes\n", "t.yaml:1:12: on_cancel must be honour, ignore, hang, ack_and_continue or { ack_after: DURATION }; got 'sometimes'")]
    [TestCase("prompts: {}\n", "t.yaml:1:10: prompts must be a list; got a mapping")]
    [TestCase("prompts:\n  - steps:\n      - sya: hi\n", "t.yaml:3:9: unknown step 'sya'; expected one of say, tool, storm, permission, sleep, end")]
    [TestCase("prompts:\n  - steps:\n      - sleep: 5\n", "t.yaml:3:16: sleep must be a duration such as 150ms, 2s, 1.5s or 1m; got '5'")]
    [TestCase("prompts:\n  - steps:\n      - end: done\n", "t.yaml:3:14: end must be one of end_turn, cancelled, max_tokens, max_turn_requests, refusal; got 'done'")]
    [TestCase("prompts:\n  - steps:\n      - say: hi\n        end: end_turn\n", "t.yaml:4:9: a step has one kind; this one has both 'say' and 'end'")]
    [TestCase("prompts:\n  - steps:\n      - storm: { count: 1, tools: [http.request] }\n", "t.yaml:3:35: storm uses http.request, which needs 'http_url'")]
    [TestCase("prompts:\n  - steps:\n      - storm: { count: 1, concurrency: 0, tools: [a] }\n", "t.yaml:3:41: concurrency must be between 1 and 100000; got 0")]
    [TestCase("prompts:\n  - steps:\n      - storm: { count: 1, tools: { a: -1 } }\n", "t.yaml:3:40: a tool weight must be a positive number; got '-1'")]
    [TestCase("prompts:\n  - steps:\n      - tool: desktop.press\n        report_tool_calls: yes\n", "t.yaml:4:28: report_tool_calls must be true or false; got 'yes'")]
    [TestCase("prompts:\n  - steps:\n      - permission: { kind: delete }\n", "t.yaml:3:21: permission needs 'title'")]
    [TestCase("prompts:\n  - steps:\n      - permission: Delete\n        self_answer: always\n", "t.yaml:4:22: self_answer must be one of allow, reject; got 'always'")]
    [TestCase("prompts:\n  - steps:\n      - tool: desktop.press\n        session: \"\"\n", "t.yaml:4:18: session must be a non-empty session id")]
    [TestCase("prompts:\n  - steps:\n      - say: hi\n        session: [a]\n", "t.yaml:4:18: session must be a single value; got a list")]
    [TestCase("prompts:\n  - steps:\n      - end: end_turn\n        repeat: 0\n", "t.yaml:4:17: repeat must be between 1 and 100; got 0")]
    [TestCase("prompts:\n  - steps:\n      - say: hi\n        repeat: 2\n", "t.yaml:4:9: unknown key 'repeat' in a say step; expected session")]
    [TestCase("session_prompts: [a]\n", "t.yaml:1:18: session_prompts must be a mapping; got a list")]
    [TestCase("session_prompts:\n  sess-2: {}\n", "t.yaml:2:11: session_prompts of 'sess-2' must be a list; got a mapping")]
    [TestCase("prompts: [\n", "t.yaml:2:1: not valid YAML")]
    public void Parse_BadScript_ReportsWhereAndWhat(string yaml, string expected)
    {
        var ex = Assert.Throws<ScriptException>(() => FakeAgentScript.Parse(yaml, "t.yaml"));

        Assert.That(ex.Message, Does.StartWith(expected));
    }

    [Test]
    public void PromptFor_BeyondTheList_RepeatsTheLast()
    {
        var script = FakeAgentScript.Parse("prompts:\n  - steps: [ { say: one } ]\n  - steps: [ { say: two } ]\n", "t.yaml");

        var texts = Enumerable.Range(0, 4).Select(i => ((SayStep)script.PromptFor(i).Steps[0]).Text);

        Assert.That(texts, Is.EqualTo(new[] { "one", "two", "two", "two" }));
    }

    [Test]
    public void Load_MissingFile_ThrowsScriptException()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "missing.yaml");

        var ex = Assert.Throws<ScriptException>(() => FakeAgentScript.Load(path));

        Assert.That(ex.Message, Does.StartWith(path + ":0:0: cannot read the script"));
    }

    [TestCase("storm.yaml")]
    [TestCase("ignore-cancel.yaml")]
    public void Load_ExampleScript_IsValid(string name)
    {
        var script = FakeAgentScript.Load(Path.Combine(RepositoryPaths.Root, "fixtures", "scripts", name));

        Assert.That(script.Prompts, Is.Not.Empty);
    }
}
