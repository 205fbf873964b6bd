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

            // Requests with a readable id are answered, each once, whatever the load. A line with no readable id is answered
            // with a null id unless 1024 answers already wait for the agent (then the bridge says so in its report of that
            // line): how many depends on how fast this agent's reader keeps up, so the two are counted together.
            Assert.That(agent.IdAnswersBeforeLegitAnswer, Is.EqualTo(cycles * (perCycle.UnknownMethod + HostileByteStream.GhostToolCallsPerCycle)), "every hostile request with an id answered under it");
            Assert.That(
                agent.NullIdAnswersBeforeLegitAnswer + violations.Unanswered,
                Is.EqualTo(cycles * (perCycle.Oversize + perCycle.Malformed)),
                $"every line with no readable id answered with a null id ({agent.NullIdAnswersBeforeLegitAnswer}) or reported unanswered ({violations.Unanswered})");
            Assert.That(agent.IdAnswersBeforeLegitAnswer + agent.NullIdAnswersBeforeLegitAnswer, Is.LessThanOrEqualTo(cycles * perCycle.ErrorResponses), "no line answered twice");
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

    /// <summary>
    /// Why the count of null-id answers depends on the machine: while the agent does not read, the bridge queues the error
    /// answers of its unreadable lines only up to <see cref="Connection.MaxQueuedAnonymousErrors"/>, then drops them (no
    /// request can wait on a line with no readable id, and an agent writing garbage without reading must not grow the
    /// host's queue). The drop must not be silent: each line is still reported, and its report says it was not answered;
    /// the requests with ids in the same flood are all answered. Deterministic: the agent stops reading on purpose.
    /// </summary>
    [Test]
    [CancelAfter(60_000)]
    public async Task UnreadableLines_AgentNotReadingMeanwhile_EachAnsweredOrReportedUnansweredAndEveryRequestAnswered(CancellationToken cancellationToken)
    {
        const int unreadable = 5000;
        const int requests = 200;
        var violations = new ViolationCounter();
        var agent = new PausedReader(unreadable, requests);
        await using var bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = new FakeTimeProvider(),
            SandboxRoot = Directory.CreateTempSubdirectory("cl-memory-bound-").FullName,
            TransportFactory = () => new StreamTransport(agent.RunAsync, "paused in-process agent"),
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

        var outcome = await bridge.PromptAsync(session, "flood while not reading", cancellationToken).OrTimeout(50);

        var report = $"{agent.NullIdAnswers} null-id answers, {violations.Unanswered} reported unanswered, {agent.IdAnswers} of {requests} requests answered; turn {outcome.End}";
        Assert.Multiple(() =>
        {
            Assert.That(outcome.End, Is.EqualTo(TurnEnd.Completed), report);
            Assert.That(violations.Malformed, Is.EqualTo(unreadable), "every unreadable line read and reported");
            Assert.That(violations.UnknownMethod, Is.EqualTo(requests));
            Assert.That(agent.IdAnswers, Is.EqualTo(requests), "every request with an id answered: " + report);
            Assert.That(violations.Unanswered, Is.GreaterThan(0), "the backlog was reached (the agent did not read): " + report);
            Assert.That(agent.NullIdAnswers + violations.Unanswered, Is.EqualTo(unreadable), "each unreadable line answered or said unanswered: " + report);
        });
    }

    /// <summary>The in-process agents' answers to initialize and session/new: the minimum the bridge needs.</summary>
    private static Task AnswerHandshakeAsync(Stream output, IncomingMessage message, CancellationToken cancellationToken) =>
        WriteAsync(
            output,
            message.Method == AcpMethods.Initialize
                ? $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"protocolVersion":1}}""" + "\n"
                : $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"sessionId":"{{{SessionId}}}"}}""" + "\n",
            cancellationToken);

    private static async Task WriteAsync(Stream output, string text, CancellationToken cancellationToken)
    {
        await output.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        await output.FlushAsync(cancellationToken);
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

        /// <summary>Violations whose null-id answer the bridge did not queue (it says so at the end of the reason).</summary>
        public int Unanswered { get; private set; }

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
                if (reason.EndsWith(Connection.AnonymousAnswerDropped, StringComparison.Ordinal))
                {
                    Unanswered++;
                }
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
        private int _idAnswers;
        private int _nullIdAnswers;

        public long Baseline { get; set; }

        public long PeakLive { get; private set; }

        public int Samples { get; private set; }

        public HostileByteStream? Stream { get; set; }

        public string LegitAnswer => _legitAnswer.Task.IsCompletedSuccessfully ? _legitAnswer.Task.Result : string.Empty;

        public int IdAnswersBeforeLegitAnswer { get; private set; }

        public int NullIdAnswersBeforeLegitAnswer { get; private set; }

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
                        _nullIdAnswers++;
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
                        _idAnswers++;
                        break;
                    case null when message.Id is { } id && id.ToString() == "\"legit\"":
                        IdAnswersBeforeLegitAnswer = _idAnswers;
                        NullIdAnswersBeforeLegitAnswer = _nullIdAnswers;
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

    /// <summary>
    /// Answers the handshake; on the prompt stops reading, writes lines that are not UTF-8 and then requests for an unknown
    /// method, reads again, and answers the prompt once every request has its answer.
    /// </summary>
    private sealed class PausedReader(int unreadable, int requests)
    {
        private readonly TaskCompletionSource _allAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _flooded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _idAnswers;

        public int IdAnswers => Volatile.Read(ref _idAnswers);

        public int NullIdAnswers { get; private set; }

        public async Task RunAsync(Stream input, Stream output, CancellationToken cancellationToken)
        {
            var reader = new LineReader(input);
            var parser = new MessageParser();
            Task turn = Task.CompletedTask;
            while (await reader.ReadLineAsync(cancellationToken) is { Status: LineReadStatus.Line } read)
            {
                if (parser.Parse(read.Line, read.LineNumber).Message is not { } message)
                {
                    NullIdAnswers += read.Line.Span.IndexOf("\"id\":null"u8) >= 0 ? 1 : 0;
                    continue;
                }

                switch (message.Method)
                {
                    case AcpMethods.Initialize or AcpMethods.SessionNew:
                        await AnswerHandshakeAsync(output, message, cancellationToken);
                        break;
                    case AcpMethods.SessionPrompt:
                        turn = TurnAsync(output, message.Id!.Value, cancellationToken);

                        // Not reading from here until the whole flood is written: the bridge's answers pile up behind the pipe.
                        await _flooded.Task.WaitAsync(cancellationToken);
                        break;
                    case null when message.Error is not null:
                        if (Interlocked.Increment(ref _idAnswers) == requests)
                        {
                            _allAnswered.TrySetResult();
                        }

                        break;
                }
            }

            await turn;
        }

        private async Task TurnAsync(Stream output, RpcId promptId, CancellationToken cancellationToken)
        {
            var lines = new List<byte>();
            for (var i = 0; i < unreadable; i++)
            {
                lines.Add(0xFF);
                lines.AddRange(" not UTF-8 at all, no id here\n"u8.ToArray());
            }

            for (var i = 0; i < requests; i++)
            {
                lines.AddRange(Encoding.UTF8.GetBytes($$$"""{"jsonrpc":"2.0","id":"q-{{{i}}}","method":"evil/x"}""" + "\n"));
            }

            await output.WriteAsync(lines.ToArray(), cancellationToken);
            await output.FlushAsync(cancellationToken);
            _flooded.TrySetResult();
            await _allAnswered.Task.WaitAsync(cancellationToken);
            await WriteAsync(output, $$$"""{"jsonrpc":"2.0","id":{{{promptId}}},"result":{"stopReason":"end_turn"}}""" + "\n", cancellationToken);
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
                        case AcpMethods.Initialize or AcpMethods.SessionNew:
                            await AnswerHandshakeAsync(output, message, cancellationToken);
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
    }
}
