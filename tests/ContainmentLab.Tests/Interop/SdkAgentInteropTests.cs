using System.Collections.Concurrent;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Interop;

/// <summary>
/// The real bridge drives an agent written with the official ACP TypeScript SDK (tests/interop/sdk-agent.mjs) as a
/// child process: the agent's file write lands in the sandbox, Stop ends the turn with the agent's <c>cancelled</c>
/// ack, every tool request after Stop is refused, and every wire line matches the ACP v1 schema.
/// </summary>
[TestFixture]
[Category("Interop")]
[Category("Process")]
[NonParallelizable]
public sealed class SdkAgentInteropTests
{
    private const string FirstContent = "written by the ACP SDK agent\n";

    private string? _sandbox;
    private string? _reportPath;

    [TearDown]
    public void DeleteFiles()
    {
        if (_sandbox is not null && Directory.Exists(_sandbox))
        {
            Directory.Delete(_sandbox, recursive: true);
        }

        if (_reportPath is not null)
        {
            File.Delete(_reportPath);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Interrupt_SdkAgentWritingFiles_EndsCancelledAndRefusesEveryLaterTool(CancellationToken cancellationToken)
    {
        var sandbox = _sandbox = Directory.CreateTempSubdirectory("cl-interop-sandbox-").FullName;
        var reportPath = _reportPath = Path.Combine(Path.GetTempPath(), $"cl-sdk-agent-{Guid.NewGuid():N}.jsonl");
        var tap = new RecordingTap();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = new AgentCommand(InteropSetup.Node, [InteropSetup.Script("sdk-agent.mjs"), "--report", reportPath]) { WorkingDirectory = InteropSetup.InteropDirectory },
            SandboxRoot = sandbox,

            // fs/write_text_file is destructive (policy: confirm): the user says yes to each one.
            ConfirmAsync = (_, _) => ValueTask.FromResult(true),
            WireTap = tap,
            AckTimeout = TimeSpan.FromSeconds(5),
            ShutdownGrace = TimeSpan.FromSeconds(2),
        });
        bridge.Events.Subscribe(events.Enqueue);
        int? pid = null;
        try
        {
            await bridge.StartAsync(cancellationToken);
            pid = bridge.AgentProcessId;
            var session = await bridge.NewSessionAsync(cancellationToken: cancellationToken);
            var turn = bridge.PromptAsync(session, "write files until stopped", cancellationToken);

            // The agent's first fs/write_text_file (its request 0) went through the dispatcher and landed in the sandbox.
            var hello = Path.Combine(sandbox, "hello.txt");
            await Until.TrueAsync(
                () => bridge.Audit.Snapshot().Any(r => r is { Kind: AuditKind.Completed, Tool: "fs/write_text_file", ToolCallId: "rpc-0" }) || turn.IsCompleted,
                "the SDK agent's first fs/write_text_file completed");
            Assert.That(turn.IsCompleted, Is.False, () => $"the turn ended before Stop: {turn.Result}; agent stderr: {bridge.AgentStderrTail}\naudit: "
                + string.Join('\n', bridge.Audit.Snapshot().Take(10)));
            Assert.That(File.ReadAllText(hello), Is.EqualTo(FirstContent));
            Assert.That(bridge.Audit.Snapshot().Any(r => r is { Kind: AuditKind.Dispatched, Tool: "fs/write_text_file", ToolCallId: "rpc-0" }), Is.True, "the write was dispatched");

            // Stop lands in the middle of the agent's loop of writes.
            await Until.TrueAsync(() => File.Exists(Path.Combine(sandbox, "loop-3.txt")) || turn.IsCompleted, "the SDK agent's loop wrote loop-3.txt");

            Assert.That(bridge.Interrupt(session), Is.True);
            var outcome = await turn.OrTimeout(20);

            Assert.That(outcome.End, Is.EqualTo(TurnEnd.Cancelled), () => $"{outcome}; agent stderr: {bridge.AgentStderrTail}");
            Assert.That(outcome.StopReason, Is.EqualTo("cancelled"));
            Assert.That(outcome.ProtocolDeviation, Is.False);

            var records = bridge.Audit.Snapshot();
            var interrupted = records.Single(r => r.Kind == AuditKind.Interrupted && r.SessionId == session);
            var skipped = records.Where(r => r.Kind == AuditKind.Skipped && r.SessionId == session).ToList();
            Assert.That(records.Where(r => r.Kind == AuditKind.Dispatched && r.Seq > interrupted.Seq), Is.Empty, "no dispatch after the interrupt (G1)");
            Assert.That(AuditChecks.NoDispatchAfterInterrupt(records), Is.Empty);
            Assert.That(AuditChecks.ExactlyOneTerminalRecord(records), Is.Empty);
            Assert.That(skipped.Select(r => r.Tool), Is.SupersetOf(new[] { "fs/write_text_file", "fs/read_text_file", "desktop.press" }), "the post-cancel requests were skipped at the gate");
            Assert.That(skipped.All(r => r.Seq > interrupted.Seq && tap.AnsweredWithError(r.RequestId!)), Is.True, "every skip was answered with a JSON-RPC error");
            Assert.That(events.OfType<CancelSent>().Count(e => e.SessionId == session), Is.EqualTo(1));
            Assert.That(events.OfType<ProtocolViolation>(), Is.Empty, "the bridge took every message the SDK agent sent");
            Assert.That(File.Exists(Path.Combine(sandbox, "after-cancel.txt")), Is.False, "the write asked for after the cancel did not happen");
        }
        finally
        {
            await bridge.DisposeAsync();
            if (pid is { } agentPid)
            {
                await ChildAgent.AssertGoneAsync(agentPid);
            }
        }

        var report = ReadReport(reportPath);
        TestContext.Out.WriteLine(string.Join('\n', report.Where(e => e.Event != "tool" || e.Root.GetProperty("afterCancel").GetBoolean()).Select(e => e.Json)));
        Assert.Multiple(() =>
        {
            Assert.That(report.Where(e => e.Event == "sdk-error").Select(e => e.Json), Is.Empty, "the SDK took every message the bridge sent");
            Assert.That(report.Where(e => e.Event == "violation").Select(e => e.Json), Is.Empty, "schema violations");

            var cancel = report.SingleOrDefault(e => e.Event == "cancel");
            Assert.That(cancel?.Root.GetProperty("known").GetBoolean(), Is.True, "the SDK agent got session/cancel for its session");

            var setup = report.Where(e => e.Event == "tool" && e.Root.GetProperty("phase").GetString() is "first" or "setup").ToList();
            Assert.That(setup.Select(e => e.Root.GetProperty("method").GetString()), Is.EqualTo(new[] { "fs/write_text_file", "fs/read_text_file", "_containmentlab/tool" }));
            Assert.That(setup.Select(e => e.Root.GetProperty("ok").GetBoolean()), Is.All.True, "the tools before Stop ran");
            Assert.That(setup[1].Root.GetProperty("result").GetProperty("content").GetString(), Is.EqualTo(FirstContent), "fs/read_text_file read the file back");
            var terminal = report.SingleOrDefault(e => e.Event == "terminal")?.Root;
            Assert.That(terminal?.GetProperty("ok").GetBoolean(), Is.True, () => $"the terminal round-trip: {terminal}");
            Assert.That(terminal?.GetProperty("exit").GetProperty("exitCode").GetInt32(), Is.Zero);
            Assert.That(terminal?.GetProperty("output").GetProperty("output").GetString(), Does.Contain("terminal says hi"));
            var permission = report.SingleOrDefault(e => e.Event == "permission")?.Root.GetProperty("outcome");
            Assert.That(permission?.GetProperty("outcome").GetString(), Is.EqualTo("selected"));
            Assert.That(permission?.GetProperty("optionId").GetString(), Is.EqualTo("allow"));

            var postCancel = report.Where(e => e.Event == "tool" && e.Root.GetProperty("phase").GetString() == "post-cancel").ToList();
            Assert.That(postCancel.Select(e => e.Root.GetProperty("method").GetString()), Is.EqualTo(new[] { "fs/write_text_file", "fs/read_text_file", "_containmentlab/tool" }));
            Assert.That(postCancel.Select(e => e.Root.GetProperty("ok").GetBoolean()), Is.All.False, "each request after the cancel was refused");
            Assert.That(postCancel.Select(e => e.Root.GetProperty("code").GetInt32()), Is.All.EqualTo(-32010), "refused as interrupted");
            var afterCancel = report.Where(e => e.Event == "tool" && e.Root.GetProperty("afterCancel").GetBoolean());
            Assert.That(afterCancel.Select(e => e.Root.GetProperty("ok").GetBoolean()), Is.All.False, "no tool request the agent made after it saw the cancel succeeded");
            Assert.That(report.SingleOrDefault(e => e.Event == "turn-end")?.Root.GetProperty("stopReason").GetString(), Is.EqualTo("cancelled"));

            var summary = report.SingleOrDefault(e => e.Event == "summary");
            Assert.That(summary, Is.Not.Null, "the SDK agent wrote its summary when its stdin closed (it was not killed)");
            if (summary is not null)
            {
                var wire = summary.Root.GetProperty("wire");
                Assert.That(wire.GetProperty("violations").GetInt32(), Is.Zero, () => "every line matches the ACP v1 schema: " + wire.GetProperty("firstViolations"));
                Assert.That(wire.GetProperty("lines").GetProperty("client->agent").GetInt32(), Is.EqualTo(tap.SentLines), "the checker saw every line the bridge sent");
                Assert.That(wire.GetProperty("lines").GetProperty("agent->client").GetInt32(), Is.GreaterThanOrEqualTo(tap.ReceivedLines), "…and every line the bridge read");
                Assert.That(wire.GetProperty("errorResponses").GetProperty("agent->client").GetInt32(), Is.Zero, "the SDK answered no bridge request with an error");
                Assert.That(wire.GetProperty("extensions").TryGetProperty("_containmentlab/tool", out _), Is.True, "_containmentlab/tool was checked as an ACP extension");
                Assert.That(wire.GetProperty("methods").GetProperty("client->agent").GetProperty("session/cancel").GetInt32(), Is.EqualTo(1));
            }
        });
    }

    private sealed record ReportEntry(string Event, JsonElement Root, string Json);

    private static List<ReportEntry> ReadReport(string path)
    {
        Assert.That(File.Exists(path), Is.True, $"the SDK agent wrote no report at {path}");
        return
        [
            .. File.ReadLines(path).Where(l => l.Length > 0).Select(line =>
            {
                var root = JsonDocument.Parse(line).RootElement.Clone();
                return new ReportEntry(root.GetProperty("event").GetString()!, root, line);
            }),
        ];
    }
}
