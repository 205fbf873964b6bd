using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.FakeAgent;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// Records the fuzzer's corpus: a few fake-agent scripts run through the bridge in process, every wire line kept in
/// the transcript format the replayer reads (<c>{"t","dir","line"}</c>). The recordings are committed test data, so a
/// seed replays the same mutation on every machine; run this (explicit) test only to regenerate them.
/// </summary>
/// <summary>
/// The fuzz corpus is what its scripts produce: each script is recorded again and must give the committed file's
/// messages (the same count of each kind, in each direction; thread timing may order a storm's lines differently).
/// With <c>CONTAINMENTLAB_FUZZ_RECORD=1</c> the recordings are written over the committed files instead.
/// </summary>
[TestFixture]
[Category("G9")]
public sealed class FuzzCorpusRecorder
{
    /// <summary>One session, one prompt each: the fuzzer answers the handshake itself and mutates the turn.</summary>
    internal static readonly (string Name, string Script)[] Scripts =
    [
        ("tools", """
            prompts:
              - steps:
                  - say: "Filing the report"
                  - tool: desktop.press
                    arguments: { target: OK }
                    report_tool_calls: true
                  - tool: fs/write_text_file
                    arguments: { path: fuzz/report.txt, content: "quarterly numbers" }
                  - tool: fs/read_text_file
                    arguments: { path: fuzz/report.txt }
                  - tool: desktop.set_value
                    arguments: { target: Name, value: "Ada" }
                  - tool: desktop.key
                    arguments: { keys: Enter }
                  - say: "Done"
                  - end: end_turn
            """),
        ("storm", """
            prompts:
              - steps:
                  - say: "Clicking through the dialog, quickly"
                  - storm:
                      count: 24
                      concurrency: 4
                      tools: { desktop.press: 5, desktop.set_value: 2, desktop.key: 1 }
                      seed: 7
                      report_tool_calls: true
                  - end: end_turn
            """),
        ("permission", """
            prompts:
              - steps:
                  - say: "I need to delete the old report"
                  - permission: { title: "Delete the report", kind: delete }
                  - tool: fs/write_text_file
                    arguments: { path: fuzz/old.txt, content: "" }
                  - permission: { title: "Read the inbox", kind: read }
                  - tool: desktop.press
                    arguments: { target: Send }
                  - end: end_turn
            """),
        ("agent-tool", """
            prompts:
              - steps:
                  - say: "Deploying"
                  - agent_tool: { title: "Deploy", kind: execute, duration: 2s, heartbeat: 500ms }
                  - tool: desktop.press
                    arguments: { target: Done }
                  - say: "deployed"
                  - end: end_turn
            """),
    ];

    internal static string CorpusDirectory([CallerFilePath] string thisFile = "") => Path.Combine(Path.GetDirectoryName(thisFile)!, "Transcripts");

    [Test]
    [CancelAfter(60_000)]
    public async Task Record_FakeAgentScripts_GiveTheCommittedCorpus()
    {
        var write = Environment.GetEnvironmentVariable("CONTAINMENTLAB_FUZZ_RECORD") == "1";
        Directory.CreateDirectory(CorpusDirectory());
        foreach (var (name, script) in Scripts)
        {
            var lines = await RecordAsync(script);
            var path = Path.Combine(CorpusDirectory(), name + ".ndjson");
            if (write)
            {
                await File.WriteAllTextAsync(path, string.Concat(lines.Select(l => l + "\n")));
                TestContext.Out.WriteLine($"{path}: {lines.Count} lines written");
            }

            var committed = await File.ReadAllLinesAsync(path);
            Assert.That(Shape(lines), Is.EquivalentTo(Shape(committed)), $"{name}: the recording and {path} hold the same messages (CONTAINMENTLAB_FUZZ_RECORD=1 rewrites it)");
            Assert.That(Transcript.Load(path).Entries, Has.Count.EqualTo(committed.Length));
        }
    }

    /// <summary>Each line as "direction kind", the kind being the method or "response".</summary>
    private static IEnumerable<string> Shape(IEnumerable<string> lines) => lines.Select(l =>
    {
        using var entry = JsonDocument.Parse(l);
        using var message = JsonDocument.Parse(entry.RootElement.GetProperty("line").GetString()!);
        var kind = message.RootElement.TryGetProperty("method", out var m) ? m.GetString() : "response";
        return $"{entry.RootElement.GetProperty("dir").GetString()} {kind}";
    });

    private static async Task<List<string>> RecordAsync(string yaml)
    {
        var time = new FakeTimeProvider();
        var tap = new TranscriptTap(time);
        var script = FakeAgentScript.Parse(yaml, "corpus.yaml");
        await using (var bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = time,
            SandboxRoot = Directory.CreateTempSubdirectory("cl-fuzz-record-").FullName,
            WireTap = tap,
            Policies = new PolicySet { Destructive = ToolPolicy.Allow },
            TransportFactory = () => new StreamTransport((input, output, ct) => new FakeAgentEngine(script, input, output, time, TextWriter.Null).RunAsync(ct)),
        }))
        {
            await bridge.StartAsync();
            var session = await bridge.NewSessionAsync();
            var turn = bridge.PromptAsync(session, "go");
            while (!turn.IsCompleted)
            {
                // The agent tool's heartbeats and duration run on the fake clock.
                await Task.WhenAny(turn, Task.Delay(5));
                time.Advance(TimeSpan.FromMilliseconds(100));
            }

            var outcome = await turn.OrTimeout();
            Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), outcome.Reason);
        }

        return tap.Lines;
    }

    private sealed class TranscriptTap(TimeProvider time) : IWireTap
    {
        // Wire lines stay readable in the committed files: quotes as \", not \u0022.
        private static readonly JsonSerializerOptions s_readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        private readonly Lock _lock = new();
        private readonly DateTimeOffset _start = time.GetUtcNow();

        public List<string> Lines { get; } = [];

        public void Received(long lineNumber, ReadOnlySpan<byte> line) => Add("in", line);

        public void Sent(ReadOnlySpan<byte> line) => Add("out", line.TrimEnd("\n"u8));

        private void Add(string direction, ReadOnlySpan<byte> line)
        {
            var text = Encoding.UTF8.GetString(line);
            lock (_lock)
            {
                var t = Math.Round((time.GetUtcNow() - _start).TotalSeconds, 3);
                Lines.Add(JsonSerializer.Serialize(new { t, dir = direction, line = text }, s_readable));
            }
        }
    }
}
