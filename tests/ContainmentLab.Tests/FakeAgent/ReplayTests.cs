using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using ContainmentLab.Cli;
using ContainmentLab.FakeAgent;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.FakeAgent;

/// <summary>
/// The transcript replayer in-process over pipes on fake time, driven by a test host that sends the host side of a
/// hand-written transcript: initialize, session/new, a prompt, three pipelined <c>_containmentlab/tool</c> calls (two
/// in flight) and the prompt answer.
/// </summary>
[Category("FakeAgent")]
[CancelAfter(20_000)]
public sealed class ReplayTests
{
    private const string Tool = "_containmentlab/tool";

    private static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    // Host lines (out) as the recorded bridge wrote them; the live host sends the same shapes with other payloads.
    private static readonly string s_initialize = Rpc(new { id = 0, method = "initialize", @params = new { protocolVersion = 1 } });
    private static readonly string s_newSession = Rpc(new { id = 1, method = "session/new", @params = new { cwd = "/tmp/w", mcpServers = Array.Empty<object>() } });
    private static readonly string s_prompt = Rpc(new { id = 2, method = "session/prompt", @params = new { sessionId = "sess-1", prompt = new[] { new { type = "text", text = "go" } } } });

    // Agent lines (in), written by the replayer.
    private static readonly string s_initialized = Rpc(new { id = 0, result = new { protocolVersion = 1, agentCapabilities = new { }, authMethods = Array.Empty<object>() } });
    private static readonly string s_sessionCreated = Rpc(new { id = 1, result = new { sessionId = "sess-1" } });
    private static readonly string s_update = Rpc(new { method = "session/update", @params = new { sessionId = "sess-1", update = new { sessionUpdate = "agent_message_chunk", content = new { type = "text", text = "done" } } } });
    private static readonly string s_promptAnswer = Rpc(new { id = 2, result = new { stopReason = "end_turn" } });

    private static string ToolRequest(int n) =>
        Rpc(new { id = n, method = Tool, @params = new { sessionId = "sess-1", toolCallId = $"sess-1/t{n + 1}", name = "desktop.press", arguments = new { target = "OK" } } });

    // The recorded answer carries a timestamp: a volatile field the live host sends with another value.
    private static string ToolAnswer(int n, string at = "2025-01-01T00:00:00Z") => Rpc(new { id = n, result = new { at } });

    private static string Rpc(object message)
    {
        var json = JsonSerializer.SerializeToNode(message)!.AsObject();
        var line = new System.Text.Json.Nodes.JsonObject { ["jsonrpc"] = "2.0" };
        foreach (var (key, value) in json)
        {
            line[key] = value?.DeepClone();
        }

        return line.ToJsonString();
    }

    private static string Entry(double t, string dir, string line) => JsonSerializer.Serialize(new { t, dir, line });

    /// <summary>The hand-written transcript; line numbers in comments.</summary>
    private static string StormTranscript() => string.Join('\n',
        Entry(0.000, "out", s_initialize),                                   // 1
        Entry(0.010, "in", s_initialized),                                   // 2
        Entry(0.011, "out", s_newSession),                                   // 3
        Entry(0.015, "in", s_sessionCreated),                                // 4
        Entry(0.016, "out", s_prompt),                                       // 5
        """{"t":0.017,"dir":"event","event":"TurnStarted","session":"sess-1"}""", // 6
        Entry(0.020, "in", ToolRequest(0)),                                  // 7
        Entry(0.021, "in", ToolRequest(1)),                                  // 8
        """{"t":0.022,"dir":"event","event":"ToolDispatched","session":"sess-1"}""", // 9
        Entry(0.030, "out", ToolAnswer(0)),                                  // 10
        Entry(0.031, "in", ToolRequest(2)),                                  // 11
        Entry(0.040, "out", ToolAnswer(1)),                                  // 12
        Entry(0.041, "out", ToolAnswer(2)),                                  // 13
        Entry(0.050, "in", s_update),                                        // 14
        Entry(0.051, "in", s_promptAnswer)) + "\n";                          // 15

    [Test]
    public async Task RunAsync_HostSendsTheRecordedLines_WritesTheAgentSideInOrderPacedByTheHost()
    {
        await using var h = ReplayHarness.Start(StormTranscript());

        await h.SendAsync(s_initialize);
        Assert.That(await h.NextAsync(), Is.EqualTo(s_initialized));
        await h.SendAsync(s_newSession);
        Assert.That(await h.NextAsync(), Is.EqualTo(s_sessionCreated));
        await h.SendAsync(s_prompt);
        Assert.That(await h.NextAsync(), Is.EqualTo(ToolRequest(0)));
        Assert.That(await h.NextAsync(), Is.EqualTo(ToolRequest(1)));

        // The third call waits for the answer to the first, as in the recording.
        await h.AssertNothingWrittenAsync();
        await h.SendAsync(ToolAnswer(0, at: "2026-02-02T12:34:56Z"));
        Assert.That(await h.NextAsync(), Is.EqualTo(ToolRequest(2)));

        // The answers come in another order than recorded: only the set before the next agent line matters.
        await h.SendAsync(ToolAnswer(2, at: "2026-02-02T12:34:57Z"));
        await h.AssertNothingWrittenAsync();
        await h.SendAsync(ToolAnswer(1, at: "2026-02-02T12:34:58Z"));
        Assert.That(await h.NextAsync(), Is.EqualTo(s_update));
        Assert.That(await h.NextAsync(), Is.EqualTo(s_promptAnswer));

        await h.CloseInputAsync();
        Assert.That(h.Replayer.LinesWritten, Is.EqualTo(7));
        Assert.That(h.Replayer.DivergenceCount, Is.Zero, h.Log.ToString);
        Assert.That(h.Replayer.FirstDivergence, Is.Null);
        Assert.That(h.Log.ToString(), Does.Contain("replayed 7 of 7 agent lines; 0 divergence(s)"));
    }

    [Test]
    public async Task RunAsync_HostNumbersItsPromptDifferently_LogsTheFirstDivergenceAndAnswersWithTheHostsId()
    {
        await using var h = ReplayHarness.Start(StormTranscript());

        await h.SendAsync(s_initialize);
        await h.NextAsync();
        // A new run sends a notification the recording does not have…
        await h.SendAsync(Rpc(new { method = "_host/hello", @params = new { } }));
        await h.SendAsync(s_newSession);
        await h.NextAsync();
        // … and so numbers its prompt 3, not 2.
        await h.SendAsync(s_prompt.Replace("\"id\":2", "\"id\":3", StringComparison.Ordinal));
        await h.NextAsync();
        await h.NextAsync();
        // It refuses a call the recorded host ran.
        await h.SendAsync(Rpc(new { id = 0, error = new { code = -32001, message = "interrupted" } }));
        await h.NextAsync();
        await h.SendAsync(ToolAnswer(1));
        await h.SendAsync(ToolAnswer(2));
        await h.NextAsync();
        var answer = await h.NextAsync();

        Assert.That(JsonDocument.Parse(answer).RootElement.GetProperty("id").GetInt32(), Is.EqualTo(3));
        Assert.That(JsonDocument.Parse(answer).RootElement.GetProperty("result").GetProperty("stopReason").GetString(), Is.EqualTo("end_turn"));
        await h.CloseInputAsync();
        Assert.That(h.Replayer.LinesWritten, Is.EqualTo(7));
        Assert.That(h.Replayer.DivergenceCount, Is.EqualTo(3), h.Log.ToString);
        Assert.That(h.Replayer.FirstDivergence, Is.EqualTo("host line 2 (notification _host/hello) is not in the transcript; ignored"));
        var log = h.Log.ToString();
        Assert.That(log, Does.Contain("first divergence: host line 2 (notification _host/hello) is not in the transcript; ignored"));
        Assert.That(log.Split('\n').Count(l => l.Contains("divergence:", StringComparison.Ordinal)), Is.EqualTo(1), "only the first divergence is logged");
        Assert.That(log, Does.Contain("3 divergence(s)"));
    }

    [Test]
    public async Task RunAsync_IdRemapped_LogsTheTranscriptLineOfThePrompt()
    {
        await using var h = ReplayHarness.Start(StormTranscript());

        await h.SendAsync(s_initialize);
        await h.NextAsync();
        await h.SendAsync(s_newSession);
        await h.NextAsync();
        await h.SendAsync(s_prompt.Replace("\"id\":2", "\"id\":7", StringComparison.Ordinal));
        Assert.That(await h.NextAsync(), Is.EqualTo(ToolRequest(0)));

        Assert.That(h.Replayer.FirstDivergence, Is.EqualTo("storm.ndjson:5: host line 3 is request session/prompt id=7, recorded with id=2; the agent answers id=7"));
    }

    [Test]
    public async Task RunAsync_HostFallsSilent_GivesUpAfterTheStallTimeoutAndGoesOn()
    {
        await using var h = ReplayHarness.Start(StormTranscript());
        await h.SendAsync(s_initialize);
        await h.NextAsync();
        await h.SendAsync(s_newSession);
        await h.NextAsync();
        await h.SendAsync(s_prompt);
        await h.NextAsync();
        await h.NextAsync();

        // The host never answers tool call 0: after 5 s of silence on the replayer's clock the replay goes on.
        var next = h.NextAsync();
        while (!next.IsCompleted)
        {
            h.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(next, Task.Delay(20, Token));
        }

        Assert.That(await next, Is.EqualTo(ToolRequest(2)));
        Assert.That(h.Time.GetUtcNow() - h.Start0, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(5)));
        Assert.That(h.Replayer.FirstDivergence, Does.StartWith("storm.ndjson:10: the host has not sent response id=0 after 5 s of silence; writing transcript line 11 anyway"));
    }

    [Test]
    public async Task RunAsync_InputEndsEarly_StopsWithoutWritingTheRest()
    {
        await using var h = ReplayHarness.Start(StormTranscript());
        await h.SendAsync(s_initialize);
        await h.NextAsync();

        await h.CloseInputAsync();

        Assert.That(h.Replayer.LinesWritten, Is.EqualTo(1));
        Assert.That(h.Replayer.FirstDivergence, Does.StartWith("storm.ndjson:3: the input ended before the host sent request session/new id=1; 6 agent lines from transcript line 4 on are not written"));
    }

    [TestCase("{\"t\":0,\"dir\":\"in\",\"line\":\"{}\"}\n{\"t\":1,\"line\":\"{}\"}\n", 2, "missing 'dir' (in, out or event)")]
    [TestCase("{\"t\":0,\"dir\":\"in\",\"line\":\"{}\"}\n\n{\"t\":1,\"dir\":\"out\",\"line\":\n", 3, "not JSON: ")]
    [TestCase("{\"t\":0,\"dir\":\"sideways\",\"line\":\"{}\"}\n", 1, "'dir' must be in, out, event, action or tap; got \"sideways\"")]
    [TestCase("{\"dir\":\"in\",\"line\":\"{}\"}\n", 1, "missing 't' (seconds since the start)")]
    [TestCase("{\"t\":\"soon\",\"dir\":\"in\",\"line\":\"{}\"}\n", 1, "'t' must be a number of seconds, at least 0; got \"soon\"")]
    [TestCase("{\"t\":0,\"dir\":\"out\"}\n", 1, "missing 'line' (the raw wire line) for dir 'out'")]
    [TestCase("{\"t\":0,\"dir\":\"in\",\"line\":{\"id\":0}}\n", 1, "'line' must be a string (the raw wire line); got an object")]
    [TestCase("[1,2]\n", 1, "expected a JSON object, got an array")]
    public void Parse_BadLine_FailsWithItsLineNumber(string text, int line, string problem)
    {
        var ex = Assert.Throws<TranscriptException>(() => Transcript.Parse(text, "bad.ndjson"));

        Assert.That(ex.Line, Is.EqualTo(line));
        Assert.That(ex.Message, Does.StartWith($"bad.ndjson:{line}: {problem}"));
    }

    [Test]
    public void Parse_Events_AreKeptButNotReplayed()
    {
        var transcript = Transcript.Parse(StormTranscript(), "storm.ndjson");

        Assert.That(transcript.Entries.Count(e => e.Direction == TranscriptDirection.Event), Is.EqualTo(2));
        Assert.That(transcript.Entries[5], Is.EqualTo(new TranscriptEntry(6, 0.017, TranscriptDirection.Event, null, "TurnStarted")));
        using var replayer = new MemoryStream();
        Assert.That(new TranscriptReplayer(transcript, Stream.Null, replayer, new FakeTimeProvider()).AgentLineCount, Is.EqualTo(7));
    }

    [Test]
    public async Task RunFromArguments_BadTranscript_Exits2WithFileAndLine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"replay-bad-{Guid.NewGuid():N}.ndjson");
        await File.WriteAllTextAsync(path, "{\"t\":0,\"dir\":\"in\",\"line\":\"{}\"}\n{\"t\":1}\n", Token);
        try
        {
            using var stderr = new StringWriter();

            var code = await FakeAgentHost.RunFromArgumentsAsync(["--replay", path], stderr, Token);

            Assert.That(code, Is.EqualTo(FakeAgentHost.ExitUsage));
            Assert.That(stderr.ToString().Trim(), Is.EqualTo($"{path}:2: missing 'dir' (in, out or event)"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCase(new string[0], true)]
    [TestCase(new[] { "--script", "a.yaml", "--replay", "b.ndjson" }, true)]
    [TestCase(new[] { "--replay", "b.ndjson" }, false)]
    [TestCase(new[] { "--script", "a.yaml" }, false)]
    public void FakeAgentCommand_ScriptOrReplay_ExactlyOneIsRequired(string[] options, bool isError)
    {
        var result = CliApp.Build().Parse(["fake-agent", .. options]);

        Assert.That(result.Errors.Select(e => e.Message), isError ? Does.Contain("Give exactly one of --script FILE and --replay FILE.") : Is.Empty);
    }

    /// <summary>A replayer on fake time over two pipes, with the test as its host.</summary>
    private sealed class ReplayHarness : IAsyncDisposable
    {
        private readonly Pipe _toAgent = new();
        private readonly Pipe _fromAgent = new();
        private readonly Channel<string> _written = Channel.CreateUnbounded<string>();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;
        private readonly Task _readLoop;

        private ReplayHarness(string transcript)
        {
            Start0 = Time.GetUtcNow();
            Replayer = new TranscriptReplayer(Transcript.Parse(transcript, "storm.ndjson"), _toAgent.Reader.AsStream(), _fromAgent.Writer.AsStream(), Time, Log);
            _run = RunAsync();
            _readLoop = ReadLoopAsync();
        }

        public FakeTimeProvider Time { get; } = new();

        public DateTimeOffset Start0 { get; }

        public StringWriter Log { get; } = new();

        public TranscriptReplayer Replayer { get; }

        public static ReplayHarness Start(string transcript) => new(transcript);

        public async Task SendAsync(string line)
        {
            await _toAgent.Writer.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), Token);
        }

        /// <summary>The next line the replayer wrote.</summary>
        public Task<string> NextAsync() => _written.Reader.ReadAsync(Token).AsTask().OrTimeout(10);

        /// <summary>Gives the replayer a moment (real time; its own clock does not move) and checks it wrote nothing.</summary>
        public async Task AssertNothingWrittenAsync()
        {
            await Task.Delay(100, Token);
            Assert.That(_written.Reader.TryPeek(out var line), Is.False, () => $"wrote too early: {line}");
        }

        /// <summary>Closes the replayer's input and waits for RunAsync to return.</summary>
        public async Task CloseInputAsync()
        {
            await _toAgent.Writer.CompleteAsync();
            await _run.OrTimeout(10);
        }

        public async ValueTask DisposeAsync()
        {
            await _toAgent.Writer.CompleteAsync();
            if (!_run.IsCompleted)
            {
                await _stop.CancelAsync();
            }

            await _run.OrTimeout(10);
            await _readLoop.OrTimeout(10);
            await _toAgent.Reader.CompleteAsync();
            await _fromAgent.Reader.CompleteAsync();
            _stop.Dispose();
            await Log.DisposeAsync();
        }

        private async Task RunAsync()
        {
            await Task.Yield();
            try
            {
                await Replayer.RunAsync(_stop.Token);
            }
            finally
            {
                await _fromAgent.Writer.CompleteAsync();
            }
        }

        private async Task ReadLoopAsync()
        {
            var reader = new LineReader(_fromAgent.Reader.AsStream());
            while (await reader.ReadLineAsync() is { Status: not LineReadStatus.EndOfStream } read)
            {
                await _written.Writer.WriteAsync(Encoding.UTF8.GetString(read.Line.Span));
            }

            _written.Writer.Complete();
        }
    }
}
