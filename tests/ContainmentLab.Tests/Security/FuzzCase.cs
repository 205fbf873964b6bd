using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Scenarios.Evidence;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Security;

/// <summary>How one fuzz case went: what was mutated, how the turn ended, and every invariant it broke (empty = held).</summary>
internal sealed record FuzzCaseResult(int Seed, string Transcript, string Mutation, string Interrupt, TurnEnd? End, IReadOnlyList<string> Failures, int Violations, int IdleSessionDispatches)
{
    public string Describe() => $"seed {Seed}: {Transcript}, {Mutation}; {Interrupt}; turn {End?.ToString() ?? "did not end"}";
}

/// <summary>
/// One fuzz case: a seed picks a recorded turn, mutates its agent side and maybe an interrupt point; the mutated agent
/// runs against a real <see cref="AcpBridge"/> in process (fake clock, pipes), and the run is checked against the
/// invariants. The bridge never waits for real time; the agent's own waits are bounded and a bound hit is a failure.
/// </summary>
internal static class FuzzCase
{
    public const int MaxLineBytes = 16 * 1024;

    /// <summary>Runs the case of <paramref name="seed"/>; without <paramref name="mutate"/>, the first transcript as recorded (the baseline).</summary>
    public static async Task<FuzzCaseResult> RunAsync(int seed, IReadOnlyList<FuzzTranscript> corpus, string sandboxRoot, bool mutate = true)
    {
        var random = new Random(seed);
        var transcript = corpus[mutate ? random.Next(corpus.Count) : 0];
        var (units, mutation) = mutate ? FuzzMutator.Mutate(transcript, random, MaxLineBytes) : ([.. transcript.Turn], "as recorded");
        var interruptKind = mutate ? random.Next(4) : 2; // 0: this session, 1: all sessions, else none
        var interruptBefore = random.Next(units.Count + 1);
        var interrupt = interruptKind switch
        {
            0 => $"Interrupt(sess-1) before line {interruptBefore}",
            1 => $"InterruptAll() before line {interruptBefore}",
            _ => "no interrupt",
        };
        (int Unit, int Cut)? crash = mutate && random.Next(8) == 0 ? (random.Next(units.Count + 1), random.Next(200)) : null;
        if (crash is { } c)
        {
            interrupt += $"; the agent dies before line {c.Unit}, after {c.Cut} bytes of it";
        }

        // Virtual time jumps once in a quarter of the cases, across the ack timeout (5 s) or the watchdog's window (60 s).
        var advanceBefore = mutate && random.Next(4) == 0 ? random.Next(units.Count + 1) : -1;
        var advanceBy = TimeSpan.FromSeconds(new[] { 1, 5, 30, 61, 600 }[random.Next(5)]);
        if (advanceBefore >= 0)
        {
            interrupt += $"; the clock jumps {advanceBy.TotalSeconds:0} s before line {advanceBefore}";
        }

        var time = new FakeTimeProvider();

        // The bridge's clock counts its timers: "no timer outlives its tool" is read off it, not off the watchdog.
        var clock = new CountingTimeProvider(time);

        var failures = new List<string>();
        var events = new ConcurrentQueue<ContainmentEvent>();
        var errors = new ErrorLog();
        var reads = new ReadCounter();
        AcpBridge? bridge = null;
        var agent = new FuzzAgent(units, MaxLineBytes, FramingOptions.DefaultMaxDepth, unit =>
        {
            if (unit == advanceBefore)
            {
                time.Advance(advanceBy);
            }

            if (unit != interruptBefore || bridge is null)
            {
                return;
            }

            if (interruptKind == 0)
            {
                bridge.Interrupt("sess-1");
            }
            else if (interruptKind == 1)
            {
                bridge.InterruptAll();
            }
        }, crash);

        bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = clock,
            SandboxRoot = sandboxRoot,
            Framing = new FramingOptions { MaxLineBytes = MaxLineBytes },
            Policies = new PolicySet { Destructive = ToolPolicy.Allow },
            LoggerFactory = errors,
            WireTap = reads,
            TransportFactory = () => new StreamTransport(agent.RunAsync, "fuzz agent"),
        });
        bridge.Events.Subscribe(events.Enqueue);
        TurnOutcome? outcome = null;
        var leakedTimers = 0;
        try
        {
            await bridge.StartAsync().OrTimeout(10);
            var s1 = await bridge.NewSessionAsync().OrTimeout(10);
            var turn = bridge.PromptAsync(s1, "go");
            var s2 = await bridge.NewSessionAsync().OrTimeout(10);
            if ((s1, s2) != ("sess-1", "sess-2"))
            {
                failures.Add($"sessions are '{s1}' and '{s2}', not sess-1 and sess-2");
            }

            agent.Release();
            outcome = await turn.OrTimeout(30);
            await agent.Done.OrTimeout(30);
            leakedTimers = await LeakedWatchdogTimersAsync(clock, events, agent);
        }
        catch (TimeoutException ex)
        {
            failures.Add("hang: " + ex.Message);
        }
#pragma warning disable CA1031 // Any exception out of the bridge is the finding: report it with the seed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failures.Add($"{ex.GetType().Name} escaped the bridge: {ex.Message}");
        }
        finally
        {
            try
            {
                await bridge.DisposeAsync().AsTask().OrTimeout(10);
            }
            catch (TimeoutException)
            {
                failures.Add("hang: DisposeAsync did not return within 10 s");
            }
        }

        // The caller gets the outcome first; the TurnEnded event follows on the thread that ended the turn (it may be
        // descheduled for a moment on a busy machine). It must come, so it is waited for, within a bound.
        var deadline = Environment.TickCount64 + 5_000;
        while (outcome is not null && !events.Any(e => e is TurnEnded) && Environment.TickCount64 < deadline)
        {
            await Task.Delay(1);
        }

        var audit = bridge.Audit.Snapshot();
        Check(failures, events, audit, agent, errors, outcome, leakedTimers, reads.LastLine);
        return new FuzzCaseResult(
            seed,
            transcript.Name,
            mutation,
            interrupt,
            outcome?.End,
            failures,
            events.Count(e => e is ProtocolViolation v && v.Line != agent.BarrierLine),
            audit.Count(r => r.Kind == AuditKind.Dispatched && r.SessionId == "sess-2"));
    }

    private static void Check(List<string> failures, ConcurrentQueue<ContainmentEvent> events, IReadOnlyList<AuditRecord> audit, FuzzAgent agent, ErrorLog errors, TurnOutcome? outcome, int activeWatches, long lastLineRead)
    {
        failures.AddRange(agent.Problems);

        // The bridge reads everything the agent wrote up to its end of file; only an agent it killed (escalation, a
        // wedge) may leave lines unread, and those cannot be held against it.
        var bridgeKilled = agent.KilledEarly || events.Any(e => e is Escalated or AgentWedged);
        if (!bridgeKilled && lastLineRead != agent.WireLines)
        {
            failures.Add($"the agent wrote {agent.WireLines} wire lines and closed its stdout, the bridge read {lastLineRead}");
        }

        // Every request the agent sent got exactly one response; every unreadable line one error with a null id.
        failures.AddRange(agent.AnswerMismatches().Select(m => "answers: " + m));

        // Every malformed line is reported as a ProtocolViolation naming its line.
        var reported = events.OfType<ProtocolViolation>().Select(v => v.Line).ToHashSet();
        var unreported = agent.MalformedLines.Where(l => l <= lastLineRead && !reported.Contains(l)).ToList();
        if (unreported.Count > 0)
        {
            failures.Add($"malformed wire lines with no ProtocolViolation: {string.Join(", ", unreported)}");
        }

        // The turn ended exactly once, and only the prompted session had one.
        var ended = events.OfType<TurnEnded>().ToList();
        if (outcome is not null && (ended.Count != 1 || ended[0].SessionId != "sess-1"))
        {
            failures.Add($"expected one TurnEnded for sess-1, got: {string.Join(", ", ended.Select(e => $"{e.SessionId}:{e.Outcome.End}"))}");
        }

        // G1 and G8 from the audit log; no dispatch for a session that does not exist.
        failures.AddRange(AuditChecks.NoDispatchAfterInterrupt(audit));
        failures.AddRange(AuditChecks.ExactlyOneTerminalRecord(audit));
        failures.AddRange(audit.Where(r => r.Kind == AuditKind.Dispatched && r.SessionId is not ("sess-1" or "sess-2"))
            .Select(r => $"dispatched {r.Tool} for session '{r.SessionId}', which does not exist"));

        if (agent.InternalErrors > 0)
        {
            failures.Add($"{agent.InternalErrors} internal-error response(s): a handler threw");
        }

        failures.AddRange(errors.Entries.Select(e => "error logged: " + e));
        if (activeWatches != 0)
        {
            failures.Add($"{activeWatches} watchdog timer(s) still armed once the turn had ended, beyond the calls still unanswered: a timer outlived its tool");
        }

        if (File.Exists(FuzzMutator.EscapeCanary))
        {
            failures.Add($"a tool wrote outside the sandbox: {FuzzMutator.EscapeCanary}");
        }
    }

    /// <summary>
    /// Before the bridge is disposed (its disposal ends every timer by itself, hiding a leak): once the turn has ended
    /// (TurnEnded is published after its agent-side tools are ended) and the agent is done, the watchdog timers armed on
    /// the bridge's clock beyond the calls the agent still waits for (a call's timer goes before its answer is written).
    /// </summary>
    private static async Task<int> LeakedWatchdogTimersAsync(CountingTimeProvider clock, ConcurrentQueue<ContainmentEvent> events, FuzzAgent agent)
    {
        var deadline = Environment.TickCount64 + 5_000;
        while (!events.Any(e => e is TurnEnded) && Environment.TickCount64 < deadline)
        {
            await Task.Delay(1); // a TurnEnded that never comes is reported by Check
        }

        var armed = clock.Armed().Count(o => o.StartsWith("ContainmentLab.Bridge.Watchdog", StringComparison.Ordinal));
        return Math.Max(0, armed - agent.Unanswered);
    }

    /// <summary>The last wire line number the bridge's reader handed on (every line counts, oversize ones too).</summary>
    private sealed class ReadCounter : IWireTap
    {
        private long _last;

        public long LastLine => Interlocked.Read(ref _last);

        public void Received(long lineNumber, ReadOnlySpan<byte> line) => Interlocked.Exchange(ref _last, lineNumber);

        public void Sent(ReadOnlySpan<byte> line)
        {
        }
    }

    /// <summary>Keeps what the bridge logs at Error or above: a handler that threw, a loop that failed.</summary>
    private sealed class ErrorLog : ILoggerFactory, ILogger
    {
        private readonly ConcurrentQueue<string> _entries = new();

        public IReadOnlyCollection<string> Entries => _entries;

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                _entries.Enqueue(formatter(state, exception) + (exception is null ? string.Empty : $" ({exception.GetType().Name}: {exception.Message})"));
            }
        }

        public void Dispose()
        {
        }
    }
}
