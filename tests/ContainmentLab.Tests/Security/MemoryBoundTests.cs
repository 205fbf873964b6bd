using System.Diagnostics;
using System.Globalization;
using System.Text;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// G9, memory: 1 GiB of hostile agent output, generated on the fly, goes through the bridge's real connection and line
/// reader (an in-process agent on a <see cref="StreamTransport"/>). The managed heap must stay within 64 MiB of where
/// it started, at every point of the stream and after it; every hostile line is reported, nothing dispatches, and the
/// turn that the garbage interrupted still runs a real tool call and ends normally.
/// </summary>
[TestFixture]
[Category("G9")]
[NonParallelizable]
public sealed class MemoryBoundTests
{
    private const long OneGiB = 1024L * 1024 * 1024;
    private const long HeapBound = 64L * 1024 * 1024;
    private const string SessionId = "sess-mem";

    /// <remarks>
    /// What stays after the stream is not the stream: the reader's buffer (the line limit) and the buffers that parsing
    /// the longest valid lines rented from the shared array pools, which keep them per thread. Both scale with the line
    /// limit, never with the input: about 19 MiB at the default 4 MiB limit, 3 MiB at 1 MiB, whether 200 MiB or 1 GiB
    /// went through (with a limit-sized line in every cycle instead of the first only, 20–50 MiB, by which threads ran the
    /// reader). The second case holds the bridge to a bound four times tighter.
    /// </remarks>
    [TestCase(FramingOptions.DefaultMaxLineBytes, 64, TestName = "HostileGigabyte_DefaultLineLimit_HeapGrowsLessThan64MiBAndTheTurnStillCompletes")]
    [TestCase(1024 * 1024, 16, TestName = "HostileGigabyte_OneMiBLineLimit_HeapGrowsLessThan16MiBAndTheTurnStillCompletes")]
    [CancelAfter(120_000)]
    public async Task HostileGigabyte_ThroughTheRealReader_HeapStaysBoundedAndTheTurnStillCompletes(int maxLineBytes, int boundMiB, CancellationToken cancellationToken)
    {
        var bound = boundMiB * 1024L * 1024;
        var time = new FakeTimeProvider();
        var violations = new ViolationCounter();
        var agent = new HostileAgent();
        await using var bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = time,
            SandboxRoot = Directory.CreateTempSubdirectory("cl-memory-bound-").FullName,
            TransportFactory = () => new StreamTransport(agent.RunAsync, "hostile in-process agent"),
            Framing = new FramingOptions { MaxLineBytes = maxLineBytes },
        });
        bridge.Events.Subscribe(e =>
        {
            if (e is ProtocolViolation v)
            {
                violations.Add(v);
            }
        });
        await bridge.StartAsync(cancellationToken);
        var session = await bridge.NewSessionAsync(cancellationToken: cancellationToken);
        Assert.That(session, Is.EqualTo(SessionId));

        // The generator's own buffers (a few MiB, reused all along) exist before the baseline: only the bridge is measured.
        agent.Stream = new HostileByteStream(OneGiB, maxLineBytes, seed: 9, agent.Sample);
        agent.Baseline = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        var outcome = await bridge.PromptAsync(session, "read this", cancellationToken).OrTimeout(100);
        clock.Stop();
        var after = GC.GetTotalMemory(forceFullCollection: true);

        var cycles = agent.Stream!.Cycles;
        var perCycle = HostileByteStream.PerCycle;
        var report = $"{agent.Stream.Position / (1024 * 1024)} MiB in {clock.Elapsed.TotalSeconds:0.00} s; baseline {Mib(agent.Baseline)}, "
            + $"peak live {Mib(agent.PeakLive)} over {agent.Samples} samples, after {Mib(after)}; {violations.Total} violations; "
            + $"turn {outcome.End} ({outcome.Reason})";
        TestContext.Out.WriteLine(report);

        Assert.That(agent.Stream.Position, Is.GreaterThanOrEqualTo(OneGiB), "the whole hostile stream went through");
        Assert.That(agent.Samples, Is.GreaterThanOrEqualTo(60), "the heap was sampled all along the stream, inside the huge lines too");
        Assert.That(agent.PeakLive - agent.Baseline, Is.LessThan(bound), "peak live heap growth while reading: " + report);
        Assert.That(after - agent.Baseline, Is.LessThan(bound), "live heap growth after reading: " + report);

        Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), outcome.Reason);
        Assert.That(outcome.StopReason, Is.EqualTo(StopReasons.EndTurn));
        Assert.That(agent.LegitAnswer, Does.Contain("\"result\""), "the tool call after the garbage was answered with a result");
        Assert.That(bridge.Audit.Snapshot().Where(r => r.SessionId == SessionId).Select(r => r.Kind), Is.EqualTo(new[] { AuditKind.Dispatched, AuditKind.Began, AuditKind.Completed }));
        Assert.That(bridge.Audit.Snapshot().Where(r => r.Kind == AuditKind.Dispatched).Select(r => r.ToolCallId), Is.EqualTo(new[] { "legit-1" }), "no hostile line dispatched");

        Assert.Multiple(() =>
        {
            Assert.That(violations.Oversize, Is.EqualTo(cycles * perCycle.Oversize), "oversize lines reported");
            Assert.That(violations.Malformed, Is.EqualTo(cycles * perCycle.Malformed), "malformed lines (bad UTF-8, nesting, noise) reported");
            Assert.That(violations.UnknownSession, Is.EqualTo((cycles * perCycle.UnknownSession) + 1), "lines naming sessions that do not exist reported (+1: the line at the limit)");
            Assert.That(violations.UnknownMethod, Is.EqualTo(cycles * perCycle.UnknownMethod), "unknown methods reported");
            Assert.That(violations.UnknownResponse, Is.EqualTo(cycles * perCycle.UnknownResponse), "responses to ids never sent reported");
            Assert.That(violations.Other, Is.Zero, "other violations: " + violations.Samples);
            Assert.That(agent.ErrorResponsesBeforeLegitAnswer, Is.EqualTo(cycles * perCycle.ErrorResponses), "every hostile line that may be a request answered with one error");
        });
    }

    /// <summary>
    /// An agent that floods short requests for an unknown method and never reads its stdin: each line earns an error
    /// answer that cannot be written. The bridge must not queue them without bound while waiting for the write-stall timer (here on a fake
    /// clock that never moves): a backlog that large means the agent is not reading, so it is wedged (G6) and killed.
    /// </summary>
    [Test]
    [CancelAfter(60_000)]
    public async Task FloodOfBadLines_AgentNeverReads_BacklogStaysBoundedAndTheAgentIsDeclaredWedged(CancellationToken cancellationToken)
    {
        const int floodLines = 1_000_000;
        var time = new FakeTimeProvider();
        var violations = 0;
        var wedged = new List<AgentWedged>();
        var agent = new NonReadingFlooder(floodLines);
        await using var bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = time,
            SandboxRoot = Directory.CreateTempSubdirectory("cl-memory-bound-").FullName,
            TransportFactory = () => new StreamTransport(agent.RunAsync, "flooding in-process agent"),
        });
        bridge.Events.Subscribe(e =>
        {
            if (e is ProtocolViolation)
            {
                Interlocked.Increment(ref violations);
            }
            else if (e is AgentWedged w)
            {
                lock (wedged)
                {
                    wedged.Add(w);
                }
            }
        });
        await bridge.StartAsync(cancellationToken);
        var session = await bridge.NewSessionAsync(cancellationToken: cancellationToken);

        agent.Baseline = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        var outcome = await bridge.PromptAsync(session, "flood", cancellationToken).OrTimeout(50);
        await agent.Done.OrTimeout(10);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var report = $"{agent.Written} bad lines written in {clock.Elapsed.TotalSeconds:0.00} s, {violations} violations; baseline {Mib(agent.Baseline)}, "
            + $"peak live {Mib(agent.PeakLive)} over {agent.Samples} samples, after {Mib(after)}; turn {outcome.End} ({outcome.Reason})";
        TestContext.Out.WriteLine(report);

        Assert.That(agent.Samples, Is.GreaterThan(0), "the heap was sampled while the flood ran");
        Assert.That(agent.PeakLive - agent.Baseline, Is.LessThan(HeapBound), "peak live heap growth: " + report);
        Assert.That(after - agent.Baseline, Is.LessThan(HeapBound), "live heap growth after: " + report);
        Assert.That(wedged, Has.Count.EqualTo(1), "the agent that stopped reading is declared wedged once: " + report);
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited), report);
        Assert.That(agent.Written, Is.LessThan(floodLines), "the flood was cut short by the kill: " + report);
    }

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    /// <summary>Counts violations by kind and keeps a few for the failure message: the test itself must stay bounded.</summary>
    private sealed class ViolationCounter
    {
        private readonly Lock _lock = new();
        private readonly StringBuilder _samples = new();
        private int _kept;

        public int Total { get; private set; }

        public int Oversize { get; private set; }

        public int Malformed { get; private set; }

        public int UnknownSession { get; private set; }

        public int UnknownMethod { get; private set; }

        public int UnknownResponse { get; private set; }

        public int Other { get; private set; }

        public string Samples
        {
            get
            {
                lock (_lock)
                {
                    return _samples.ToString();
                }
            }
        }

        public void Add(ProtocolViolation v)
        {
            lock (_lock)
            {
                Total++;
                var reason = v.Reason;
                if (reason.Contains("exceeds the", StringComparison.Ordinal))
                {
                    Oversize++;
                }
                else if (reason.StartsWith("invalid UTF-8", StringComparison.Ordinal) || reason.StartsWith("not valid JSON", StringComparison.Ordinal))
                {
                    Malformed++;
                }
                else if (reason.Contains("does not exist", StringComparison.Ordinal))
                {
                    UnknownSession++;
                }
                else if (reason.StartsWith("unknown method", StringComparison.Ordinal))
                {
                    UnknownMethod++;
                }
                else if (reason.StartsWith("response to an unknown", StringComparison.Ordinal))
                {
                    UnknownResponse++;
                }
                else
                {
                    Other++;
                    if (_kept++ < 10)
                    {
                        _samples.Append(CultureInfo.InvariantCulture, $"line {v.Line}: {reason}; ");
                    }
                }
            }
        }
    }

    /// <summary>
    /// An in-process agent that answers the handshake, then answers the prompt with the hostile stream, one real tool
    /// call once the bridge has answered it, and <c>end_turn</c>. It reads everything the bridge writes all along, as a
    /// real agent does. The heap is sampled on the generator's thread, where the reader is at that very point.
    /// </summary>
    private sealed class HostileAgent
    {
        private readonly TaskCompletionSource<string> _legitAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _errorResponses;

        public long Baseline { get; set; }

        public long PeakLive { get; private set; }

        public int Samples { get; private set; }

        public HostileByteStream? Stream { get; set; }

        public string LegitAnswer => _legitAnswer.Task.IsCompletedSuccessfully ? _legitAnswer.Task.Result : string.Empty;

        public int ErrorResponsesBeforeLegitAnswer { get; private set; }

        public async Task RunAsync(Stream input, Stream output, CancellationToken cancellationToken)
        {
            var reader = new LineReader(input);
            var parser = new MessageParser();
            Task turn = Task.CompletedTask;
            while (true)
            {
                var read = await reader.ReadLineAsync(cancellationToken);
                if (read.Status == LineReadStatus.EndOfStream)
                {
                    break;
                }

                if (parser.Parse(read.Line, read.LineNumber).Message is not { } message)
                {
                    // JSON-RPC answers a line it could not read with an error whose id is null: not a message for us to route.
                    if (read.Line.Span.IndexOf("\"id\":null"u8) >= 0 && read.Line.Span.IndexOf("\"error\":"u8) >= 0)
                    {
                        _errorResponses++;
                        continue;
                    }

                    throw new InvalidDataException("the bridge wrote a line that is not JSON-RPC: " + Encoding.UTF8.GetString(read.Line.Span));
                }

                switch (message.Method)
                {
                    case AcpMethods.Initialize:
                        await WriteAsync(output, $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"protocolVersion":1,"agentCapabilities":{},"authMethods":[]}}""", cancellationToken);
                        break;
                    case AcpMethods.SessionNew:
                        await WriteAsync(output, $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"sessionId":"{{{SessionId}}}"}}""", cancellationToken);
                        break;
                    case AcpMethods.SessionPrompt:
                        turn = TurnAsync(output, message.Id!.Value, cancellationToken);
                        break;
                    case null when message.Error is not null:
                        _errorResponses++;
                        break;
                    case null when message.Id is { } id && id.ToString() == "\"legit\"":
                        ErrorResponsesBeforeLegitAnswer = _errorResponses;
                        _legitAnswer.TrySetResult(Encoding.UTF8.GetString(read.Line.Span));
                        break;
                }
            }

            await turn;
        }

        private async Task TurnAsync(Stream output, RpcId promptId, CancellationToken cancellationToken)
        {
            var stream = Stream ?? throw new InvalidOperationException("no hostile stream set");
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            }

            Sample(stream.Position);
            await WriteAsync(output, $$$$"""{"jsonrpc":"2.0","id":"legit","method":"_containmentlab/tool","params":{"sessionId":"{{{{SessionId}}}}","toolCallId":"legit-1","name":"desktop.press","arguments":{"target":"OK"}}}""", cancellationToken);
            await _legitAnswer.Task.WaitAsync(cancellationToken);
            await WriteAsync(output, $$$"""{"jsonrpc":"2.0","id":{{{promptId}}},"result":{"stopReason":"end_turn"}}""", cancellationToken);
        }

        public void Sample(long position)
        {
            // A full collection: what is left is what the bridge holds on to at this point of the stream.
            PeakLive = Math.Max(PeakLive, GC.GetTotalMemory(forceFullCollection: true));
            Samples++;
        }

        private static async Task WriteAsync(Stream output, string line, CancellationToken cancellationToken)
        {
            await output.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken);
            await output.FlushAsync(cancellationToken);
        }
    }

    /// <summary>Answers the handshake, then writes short bad lines (valid JSON, not an object) and never reads again.</summary>
    private sealed class NonReadingFlooder(int lines)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Baseline { get; set; }

        public long PeakLive { get; private set; }

        public int Samples { get; private set; }

        public int Written { get; private set; }

        public Task Done => _done.Task;

        public async Task RunAsync(Stream input, Stream output, CancellationToken cancellationToken)
        {
            try
            {
                var reader = new LineReader(input);
                var parser = new MessageParser();
                while (await reader.ReadLineAsync(cancellationToken) is { Status: LineReadStatus.Line } read)
                {
                    var message = parser.Parse(read.Line, read.LineNumber).Message!;
                    switch (message.Method)
                    {
                        case AcpMethods.Initialize:
                            await WriteAsync(output, $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"protocolVersion":1}}""" + "\n", cancellationToken);
                            break;
                        case AcpMethods.SessionNew:
                            await WriteAsync(output, $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"sessionId":"{{{SessionId}}}"}}""" + "\n", cancellationToken);
                            break;
                        case AcpMethods.SessionPrompt:
                            // From here on the agent never reads its stdin again.
                            await FloodAsync(output, message.Id!.Value, cancellationToken);
                            return;
                    }
                }
            }
            finally
            {
                _done.TrySetResult();
            }
        }

        private async Task FloodAsync(Stream output, RpcId promptId, CancellationToken cancellationToken)
        {
            const int linesPerWrite = 4096;
            // Requests with an id, each answered (-32601) under it: answers the bridge owes and must still not queue without
            // bound. (Lines with no readable id are answered with a null id only while few lines wait, so they never pile up.)
            var chunk = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}\n", linesPerWrite)));
            try
            {
                while (Written < lines)
                {
                    await output.WriteAsync(chunk, cancellationToken);
                    Written += linesPerWrite;
                    if (Written % (16 * linesPerWrite) == 0)
                    {
                        PeakLive = Math.Max(PeakLive, GC.GetTotalMemory(forceFullCollection: true));
                        Samples++;
                    }
                }

                PeakLive = Math.Max(PeakLive, GC.GetTotalMemory(forceFullCollection: true));
                Samples++;
                await WriteAsync(output, $$$"""{"jsonrpc":"2.0","id":{{{promptId}}},"result":{"stopReason":"end_turn"}}""" + "\n", cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or IOException)
            {
                // Killed: the pipe to the bridge is gone. What the bridge still holds is measured once more.
                PeakLive = Math.Max(PeakLive, GC.GetTotalMemory(forceFullCollection: true));
                Samples++;
            }
        }

        private static async Task WriteAsync(Stream output, string text, CancellationToken cancellationToken)
        {
            await output.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
            await output.FlushAsync(cancellationToken);
        }
    }
}
