using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Interop;

/// <summary>
/// Our own two sides, the bridge and the fake agent (a child process), through a turn with every kind of message they
/// exchange — a granted and a pending permission, fs calls, an agent-side tool with heartbeats, a storm of host tools,
/// Stop with a permission still open — recorded as a transcript and checked line by line against the official ACP v1
/// schema (tests/interop/wire-check.mjs).
/// </summary>
[TestFixture]
[Category("Interop")]
[Category("Process")]
[NonParallelizable]
public sealed class BridgeWireSchemaTests
{
    [Test]
    [CancelAfter(60_000)]
    public async Task Transcript_BridgeAndFakeAgentThroughStop_EveryLineMatchesTheSchema(CancellationToken cancellationToken)
    {
        using var agent = new ChildAgent("""
            on_cancel: honour
            prompts:
              - steps:
                  - say: "Working"
                  - permission: { title: "Replace the report", kind: delete }
                  - tool: fs/write_text_file
                    arguments: { path: report.txt, content: "draft\n" }
                    report_tool_calls: true
                  - tool: fs/read_text_file
                    arguments: { path: report.txt }
                  - agent_tool: { title: "Build", kind: execute, duration: 60ms, heartbeat: 20ms }
                  - storm: { count: 5000, concurrency: 4, tools: { desktop.press: 2, desktop.set_value: 1, desktop.key: 1 }, seed: 3, report_tool_calls: true }
                  - end: end_turn
            """);
        var sandbox = Directory.CreateTempSubdirectory("cl-interop-wire-").FullName;
        var transcriptPath = Path.Combine(sandbox, "transcript.ndjson");
        var tap = new TranscriptTap();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var pendingPermission = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bridge = new AcpBridge(new BridgeOptions
        {
            Command = agent.Command,
            SandboxRoot = sandbox,
            WireTap = tap,

            // A `delete` permission asks the user. The first session's user says yes to everything; the second one's never
            // answers the permission prompt, so Stop finds it pending.
            ConfirmAsync = async (request, ct) =>
            {
                if (request.SessionId == "sess-1")
                {
                    return true;
                }

                pendingPermission.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
                return false;
            },
        });
        bridge.Events.Subscribe(events.Enqueue);
        int? pid = null;
        try
        {
            await bridge.StartAsync(cancellationToken);
            pid = bridge.AgentProcessId;
            var first = await bridge.NewSessionAsync(cancellationToken: cancellationToken);
            var second = await bridge.NewSessionAsync(cancellationToken: cancellationToken);
            var turns = new[] { bridge.PromptAsync(first, "storm", cancellationToken), bridge.PromptAsync(second, "wait for me", cancellationToken) };
            await Until.TrueAsync(() => events.Count(e => e is ToolDispatched d && d.SessionId == first && d.Tool.StartsWith("desktop.", StringComparison.Ordinal)) >= 30, "30 host tools dispatched in the first session");
            await pendingPermission.Task.WaitAsync(TimeSpan.FromSeconds(20), cancellationToken);

            Assert.That(bridge.InterruptAll(), Is.EqualTo(2));
            var outcomes = await Task.WhenAll(turns).OrTimeout(20);
            Assert.That(outcomes.Select(o => (o.End, o.StopReason)), Is.All.EqualTo((TurnEnd.Cancelled, "cancelled")), () => string.Join('\n', outcomes.Select(o => o.ToString())));
            Assert.That(events.OfType<ProtocolViolation>(), Is.Empty);
        }
        finally
        {
            await bridge.DisposeAsync();
            if (pid is { } agentPid)
            {
                await ChildAgent.AssertGoneAsync(agentPid);
            }
        }

        await File.WriteAllLinesAsync(transcriptPath, tap.Rows, cancellationToken);
        try
        {
            var check = await NodeProcess.RunAsync(InteropSetup.Node, [InteropSetup.Script("wire-check.mjs"), transcriptPath], InteropSetup.InteropDirectory, TimeSpan.FromSeconds(30), cancellationToken);

            Assert.That(check.ExitCode, Is.Zero, check.Stderr);
            var summary = JsonDocument.Parse(check.Stdout).RootElement;
            var fromAgent = summary.GetProperty("methods").GetProperty("agent->client");
            Assert.That(summary.GetProperty("violations").GetInt32(), Is.Zero);
            Assert.That(summary.GetProperty("lines").GetProperty("client->agent").GetInt32() + summary.GetProperty("lines").GetProperty("agent->client").GetInt32(), Is.EqualTo(tap.Rows.Count));
            Assert.That(
                new[] { "session/update", "session/request_permission", "fs/write_text_file", "fs/read_text_file", "_containmentlab/tool" }.Where(m => !fromAgent.TryGetProperty(m, out _)),
                Is.Empty,
                "methods the transcript lacks");
            Assert.That(summary.GetProperty("extensions").GetProperty("_containmentlab/tool").GetString(), Does.StartWith("ExtRequest / ExtResponse"));
            var sent = tap.Rows.Select(r => JsonDocument.Parse(r).RootElement).Where(r => r.GetProperty("dir").GetString() == "out").Select(r => r.GetProperty("line").GetString()!);
            Assert.That(sent.Count(l => l.Contains("\"outcome\":{\"outcome\":\"cancelled\"}", StringComparison.Ordinal)), Is.EqualTo(1), "the pending permission was answered cancelled");
        }
        finally
        {
            Directory.Delete(sandbox, recursive: true);
        }
    }

    /// <summary>Keeps every wire line as a transcript row (<c>{"dir":"in"|"out","line":…}</c>, as <c>--transcripts</c> writes them).</summary>
    private sealed class TranscriptTap : IWireTap
    {
        private readonly ConcurrentQueue<string> _rows = new();

        public IReadOnlyCollection<string> Rows => _rows;

        public void Received(long lineNumber, ReadOnlySpan<byte> line) => Add("in", line);

        public void Sent(ReadOnlySpan<byte> line) => Add("out", line.TrimEnd("\n"u8));

        private void Add(string dir, ReadOnlySpan<byte> line) =>
            _rows.Enqueue(JsonSerializer.Serialize(new Dictionary<string, string>(StringComparer.Ordinal) { ["dir"] = dir, ["line"] = Encoding.UTF8.GetString(line) }));
    }
}
