using System.Text;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.FakeAgent;
using ContainmentLab.Scenarios;
using ContainmentLab.Scenarios.Evidence;
using Microsoft.Extensions.Time.Testing;
using static ContainmentLab.Tests.Scenarios.WireBuilder;

namespace ContainmentLab.Tests.Scenarios;

/// <summary>
/// A kill_host run is judged on the host's own wire tap as it streamed it, the agents' accounts and the audit file the
/// killed host left on disk — not on the host's events or its in-memory audit log (the bridge's own view). Each stream
/// here is written by the host's real writer (<see cref="HostStreamWriter"/>) from a tap driven through the real tap
/// types, and read by the runner's real replay (<see cref="HostStreamReplay"/>). Each break is one the host's events
/// and state do not show; the oracle must name the wire line, the request id or the audit record. And each break has
/// its twin cut by the kill: the same gap where the host may have died before the evidence could exist holds.
/// </summary>
[TestFixture]
[Category("Fixtures")]
public sealed class HostStreamEvidenceTests
{
    private const string KillTimeline = "  - prompt: s1\n  - interrupt: s1\n    at: 2s\n  - kill_host: true\n    after: { event: TurnStarted, session: s1 }\n";

    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("cl-hoststream-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task Replay_RebuildsTheHostsTapAsTheHostHadIt()
    {
        var host = new Host(_directory);
        var big = new string('x', 100_000);
        var wire = host.Wire()
            .Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0), returnedAt: 1.15)
            .Raw(1.2, Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"id\":1,")).Raw(1.3, Encoding.UTF8.GetBytes("\"method\":\"x\"}\r\n"))
            .BridgeRead(2, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}", 1.3)
            .Agent(1.4, "{\"big\":\"" + big + "\"}")
            .Bridge(1.5, Error(1))
            .Raw(1.6, Encoding.UTF8.GetBytes("no LF"))
            .AgentEnd(1.7)
            .GiveUp(1.8, "stopped")
            .Exited(1.9, code: 3);
        var expected = wire.Build();

        var log = await host.KillAsync(at: 5);

        var rebuilt = log.Wire.Single();
        Assert.Multiple(() =>
        {
            Assert.That(rebuilt.FromAgent.Lines, Is.EqualTo(expected.FromAgent.Lines), "lines, with the heads read again by the runner");
            Assert.That(rebuilt.ToAgent.Lines, Is.EqualTo(expected.ToAgent.Lines));
            Assert.That(rebuilt.FromAgent.Calls, Is.EqualTo(expected.FromAgent.Calls));
            Assert.That(rebuilt.ToAgent.Calls, Is.EqualTo(expected.ToAgent.Calls));
            Assert.That((rebuilt.FromAgent.Bytes, rebuilt.ToAgent.Bytes), Is.EqualTo((expected.FromAgent.Bytes, expected.ToAgent.Bytes)));
            Assert.That(rebuilt.FromAgent.EndedAt, Is.EqualTo(expected.FromAgent.EndedAt));
            Assert.That(rebuilt.BridgeReads, Is.EquivalentTo(expected.BridgeReads));
            Assert.That((rebuilt.Index, rebuilt.StartedAt, rebuilt.GaveUpAt, rebuilt.GaveUpHow, rebuilt.ExitedAt, rebuilt.Exit), Is.EqualTo((expected.Index, expected.StartedAt, expected.GaveUpAt, expected.GaveUpHow, expected.ExitedAt, expected.Exit)));
            Assert.That(rebuilt.FromAgent.Lines[2].Head.Truncated, Is.True, "a 100 KB line, read from its kept head");
            Assert.That(host.Problems, Is.Empty, () => string.Join('\n', host.Problems.Select(p => p.Detail)));
        });
    }

    [Test]
    public async Task Stream_ALineOverTheReadersLimit_CostsTheStreamItsKeptHead()
    {
        // A hostile 6 MiB line: the bridge's reader hands it on empty (over its 4 MiB limit), the tap keeps 16 KiB of it.
        var host = new Host(_directory);
        var line = Encoding.UTF8.GetBytes(Tool(0, "t1")[..^1] + ",\"pad\":\"" + new string('p', 6 << 20) + "\"}");
        host.Wire().Raw(1.0, [.. line, (byte)'\n']).BridgeRead(1, string.Empty, 1.0).Waiting(1.1);

        var log = await host.KillAsync(at: 5);

        var kept = log.Wire.Single().FromAgent.Lines.Single();
        Assert.That((kept.Length, kept.Hash), Is.EqualTo((line.LongLength, TapStream.Hash(line))), "length and hash of the whole line");
        Assert.That(kept.Head.Method, Is.EqualTo("_containmentlab/tool"));
        Assert.That(host.StreamLength, Is.LessThan(64 * 1024), "the stream carries the head, not the line");
    }

    [Test]
    public void Read_ALastLineTheKillCutShort_IsTheCutNotAProblem()
    {
        // The SIGKILL landed while the host's writer was half-way through a line: the runner reads that torn line last.
        using var replay = new HostStreamReplay(Fixture(KillTimeline), new BridgeOptions(), 0, null);
        const string torn = "{\"k\":\"tap-end\",\"t\":8086732,\"b\":\"eyJqc29ucnBjIjoiMi4wIiwia";

        Assert.That(replay.Read(torn, lastAfterKill: true), Is.Null);
        Assert.That(replay.Problems, Is.Empty);
        replay.Read(torn);
        Assert.That(replay.Problems.Single().Detail, Does.StartWith("a line the host wrote could not be read"), "anywhere else it is a damaged stream");
    }

    [Test]
    public async Task G9_ARequestTheBridgeWasDoneWithLongBeforeTheKill_UnansweredInTheHostsTap_Fails()
    {
        // The host's view: the call completed, its turn ran on. The host's tap: no answer ever went to the agent.
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(1.0, Tool(0, "t1")).Waiting(1.2);
        host.Event(1.05, new ToolCompleted(DateTimeOffset.UnixEpoch, "sess-1", "t1", "desktop.press", AuditKind.Completed, null));
        host.Audit(1.0, AuditKind.Dispatched, "t1").Audit(1.05, AuditKind.Completed, "t1");

        var log = await host.KillAsync(at: 5);

        Assert.That(GuaranteeChecks.Check("G9", log), Is.EqualTo(
            "G9: the agent's request 0 ('_containmentlab/tool' desktop.press, agent 1 wire line 1, read at 1.000s) was never answered, though the bridge was done with it at 1.050s (audit file); the host's stream is whole up to its kill_host at 5.000s"));
    }

    [Test]
    public async Task G9_ARequestTheBridgeWasStillHandlingAtTheKill_UnansweredInTheHostsTap_IsCutByTheKill()
    {
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(4.8, Tool(0, "t1")).Waiting(4.9);
        host.Audit(4.8, AuditKind.Dispatched, "t1").Audit(4.85, AuditKind.Completed, "t1");

        var log = await host.KillAsync(at: 5);

        Assert.That(GuaranteeChecks.Check("G9", log), Is.Null);
        Assert.That(GuaranteeChecks.Check("G8", log), Is.Null);
    }

    [Test]
    public async Task G9_ADispatchTheHostStampedBetweenTheSigkillAndItsDeath_IsInsideItsCutTurn()
    {
        // The runner sends SIGKILL at 5.1 and sees the host gone at 5.15; the host ran on for a moment and dispatched
        // at 5.12. The turn it was running ended with the host's death, not with the signal's sending.
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(4.9, Tool(0, "t1")).Waiting(5.0);
        host.Event(5.12, new ToolDispatched(DateTimeOffset.UnixEpoch, "sess-1", "t1", "desktop.press", 1));
        host.Audit(5.12, AuditKind.Dispatched, "t1");

        var log = await host.KillAsync(at: 5);

        Assert.That(log.Turns.Single(), Has.Property(nameof(TurnRecord.CutByKillHost)).True.And.Property(nameof(TurnRecord.EndedAt)).EqualTo(S(5.15)));
        Assert.That(GuaranteeChecks.Check("G9", log), Is.Null);
    }

    [Test]
    public async Task G9_ARequestAnsweredTwiceBeforeTheKill_Fails()
    {
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).Bridge(1.2, Result(0)).Waiting(1.3);
        host.Audit(1.0, AuditKind.Dispatched, "t1").Audit(1.05, AuditKind.Completed, "t1");

        var log = await host.KillAsync(at: 5);

        Assert.That(GuaranteeChecks.Check("G9", log), Is.EqualTo("G9: the agent's request 0 ('_containmentlab/tool' desktop.press, agent 1 wire line 1, read at 1.000s) was answered 2 times (lines 2, 3 to the agent)"));
    }

    [Test]
    public async Task G1_ADispatchAfterInterruptInTheKilledHostsAuditFile_Fails()
    {
        // The host's in-memory log (its state) and its wire are clean: t2 was refused with an error. The file it left
        // on disk says t2 was dispatched after the session's interrupt.
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).Agent(2.5, Tool(1, "t2")).Bridge(2.6, Error(1)).Waiting(2.7);
        host.Interrupt(2.0);
        host.Audit(1.0, AuditKind.Dispatched, "t1").Audit(1.05, AuditKind.Completed, "t1").Audit(2.0, AuditKind.Interrupted, null, inMemory: true);
        host.Audit(2.5, AuditKind.Dispatched, "t2", inMemory: false).Audit(2.55, AuditKind.Skipped, "t2");

        var log = await host.KillAsync(at: 5);

        Assert.That(log.Audit.Where(r => r.Kind == AuditKind.Dispatched).Select(r => r.ToolCallId), Is.EqualTo(new[] { "t1" }), "the host's own view is clean");
        Assert.That(GuaranteeChecks.Check("G1", log), Is.EqualTo("G1: session 'sess-1' dispatched desktop.press (t2) at seq 4, after its interrupt at seq 3"));
    }

    [Test]
    public async Task G8_AnAnsweredCallWithNoTerminalRecord_FailsWhenTheKilledHostsFileHoldsALaterRecord()
    {
        // t1 was answered at 1.1; the file holds t2's dispatched record, appended at 3.0 and so written after t1's
        // terminal record would have been: that record was never appended.
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).Agent(3.0, Tool(1, "t2")).Waiting(3.1);
        host.Audit(1.0, AuditKind.Dispatched, "t1").Audit(3.0, AuditKind.Dispatched, "t2");

        var log = await host.KillAsync(at: 5);

        Assert.That(GuaranteeChecks.Check("G8", log), Is.EqualTo(
            "G8: tool call t1 of session s1 (request 0 '_containmentlab/tool' desktop.press, agent 1 wire line 1) has no terminal record in the audit file; "
            + "the bridge answered it at 1.100s (line 2 to the agent), and the killed host's file holds seq 2 'dispatched', appended at 3.000s, after it"));
    }

    [Test]
    public async Task G8_AnAnsweredCallWhoseTerminalRecordTheKilledHostHadNotWritten_IsCutByTheKill()
    {
        // Nothing appended after t1's answer (but within the tolerance) reached the file: its terminal record may have been
        // in the host's buffer at the kill. t2 was still running: its dispatched record was written before it ran.
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(4.5, Tool(0, "t1")).Bridge(4.6, Result(0)).Agent(4.7, Tool(1, "t2")).Waiting(4.8);
        host.Audit(4.5, AuditKind.Dispatched, "t1").Audit(4.55, AuditKind.Completed, "t1", inFile: false).Audit(4.7, AuditKind.Dispatched, "t2");

        var log = await host.KillAsync(at: 5);

        Assert.That(GuaranteeChecks.Check("G8", log), Is.Null);
        Assert.That(GuaranteeChecks.Check("G9", log), Is.Null, "t2 was still running at the kill");
        Assert.That(GuaranteeChecks.Check("G8", log with { HostCutAt = null }), Does.StartWith("G8: tool call t1 of session s1"), "in-process, the file must hold it");
    }

    [Test]
    public async Task G3_ACancelWhoseAckWasDueBeforeTheKill_Fails_AndOneDueAfterIt_IsCutByTheKill()
    {
        // AckTimeout 5 s: the cancel at 1.0 owed its ack (or a stop) by 7.0.
        async Task<string?> G3(double cut)
        {
            var host = new Host(Directory.CreateDirectory(Path.Combine(_directory, $"cut-{cut}")).FullName);
            host.Wire().Bridge(0.5, Prompt(9)).Bridge(1.0, Cancel()).Waiting(1.1);
            return GuaranteeChecks.Check("G3", await host.KillAsync(at: cut));
        }

        Assert.That(await G3(cut: 20), Does.StartWith("G3: session s1's prompt 9 was never answered after the session/cancel (bridge line 2 at 1.000s)"));
        Assert.That(await G3(cut: 7.5), Is.Null);
    }

    [Test]
    public async Task G4_AWatchdogTimerArmedInTheHostsSampleAfterEveryToolEnded_Fails()
    {
        // The host sampled its bridge's clock before the kill (every turn had ended): one watchdog timer still armed, and
        // the host's tap shows its only tool call answered.
        var host = new Host(_directory);
        host.Wire().Bridge(0.5, Prompt(9)).Agent(1.0, Tool(0, "t1")).Bridge(1.1, Result(0)).Agent(1.2, Result(9)).Waiting(1.3);
        host.Audit(1.0, AuditKind.Dispatched, "t1").Audit(1.05, AuditKind.Completed, "t1");

        var log = await host.KillAsync(at: 5, new TimerSample(S(4.9), ["ContainmentLab.Bridge.Watchdog+Watch"]));

        Assert.That(GuaranteeChecks.Check("G4", log), Does.StartWith("G4: 1 watchdog timer(s) still armed at 4.900s, after every turn had ended, with 0 tool call(s) unanswered"));
    }

    [Test]
    public async Task G9_TheAgentReadFewerLinesThanTheHostDelivered_Fails_AndMoreThanItsStreamShows_IsCutByTheKill()
    {
        // The agent's own account (read back from disk after the kill) says how many lines it read to the end of its stdin.
        async Task<string?> G9(long linesRead)
        {
            var host = new Host(Directory.CreateDirectory(Path.Combine(_directory, $"read-{linesRead}")).FullName);
            var account = Path.Combine(host.Directory, "agent-account-1.ndjson");
            using (var writer = new AgentAccount(File.Create(account)))
            {
                writer.Exit("input ended", crash: false, linesWritten: 0, linesRead: linesRead);
            }

            host.Wire(account).Bridge(0.5, Prompt(9)).Bridge(1.0, Cancel()).Bridge(1.5, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"session/prompt\",\"params\":{\"sessionId\":\"sess-2\",\"prompt\":[]}}").Waiting(1.6);
            return GuaranteeChecks.Check("G9", await host.KillAsync(at: 5));
        }

        Assert.That(await G9(linesRead: 2), Is.EqualTo("G9: agent 1's own account says it read 2 lines to the end of its stdin; the tap saw the bridge write 3"));
        Assert.That(await G9(linesRead: 5), Is.Null, "the host wrote on after its cut: the agent may have read lines its stream never showed");
    }

    /// <summary>
    /// A kill_host host, seen from its stream: a tap (through <see cref="WireBuilder"/>), events and actions go through
    /// the host's writer; its audit log is written by a real <see cref="AuditLog"/> on a fake clock at the run's start;
    /// <see cref="KillAsync"/> sends the state and has the runner replay it all and build the run log.
    /// </summary>
    private sealed class Host
    {
        private static readonly DateTimeOffset s_startedUtc = DateTimeOffset.UnixEpoch;
        private readonly StringWriter _text = new();
        private readonly HostStreamWriter _writer;
        private readonly Fixture _fixture = Fixture(KillTimeline);
        private readonly FakeTimeProvider _time = new(s_startedUtc);
        private readonly AuditLog _file;
        private readonly AuditLog _memory;
        private readonly List<HostAction> _actions = [];
        private HostStreamReplay? _replay;

        public Host(string directory)
        {
            Directory = directory;
            AuditPath = Path.Combine(directory, "audit.jsonl");
            _writer = new HostStreamWriter(_text, _fixture);
            _file = new AuditLog(_time, AuditPath);
            _memory = new AuditLog(_time);
            _writer.Hello(4242);
            OnAction(0, 0.5, "sess-1");
        }

        public string Directory { get; }

        public string AuditPath { get; }

        public int StreamLength => _text.GetStringBuilder().Length;

        public IReadOnlyList<ExpectationFailure> Problems => _replay?.Problems ?? [];

        public WireBuilder Wire(string? accountPath = null) => new(accountPath: accountPath, host: _writer);

        public void Event(double at, ContainmentEvent e) => _writer.OnEvent(S(at), e);

        /// <summary>The timeline's interrupt of s1, at <paramref name="at"/>, returning at once.</summary>
        public void Interrupt(double at) => OnAction(1, at, "sess-1");

        /// <summary>An audit record at <paramref name="at"/>, in the host's in-memory log (its state) and in its file on disk, or in one of them.</summary>
        public Host Audit(double at, AuditKind kind, string? toolCallId, bool inMemory = true, bool inFile = true)
        {
            _time.SetUtcNow(s_startedUtc + S(at));
            if (inMemory)
            {
                _memory.Append(kind, "sess-1", toolCallId, toolCallId is null ? null : "desktop.press");
            }

            if (inFile)
            {
                _file.Append(kind, "sess-1", toolCallId, toolCallId is null ? null : "desktop.press");
                _file.Flush();
            }

            return this;
        }

        /// <summary>kill_host at <paramref name="at"/>: the state goes out; the runner replays the stream and builds its log, as after the kill.</summary>
        public async Task<RunLog> KillAsync(double at, TimerSample? timers = null)
        {
            OnAction(2, at, null);
            var turn = new HostTurn("s1", "sess-1", 1, S(0.5), null, null, null, false);
            var state = new HostState(HostState.Kill, new Dictionary<string, string> { ["s1"] = "sess-1" }, _actions, [turn], _memory.Snapshot(), [], S(at), null, AuditPath, timers, s_startedUtc);
            await _writer.SendStateAsync(state);
            await _writer.DisposeAsync();
            _file.Dispose();
            _memory.Dispose();

            _replay = new HostStreamReplay(_fixture, new BridgeOptions { AuditPath = AuditPath }, 0, null);
            foreach (var line in _text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                _replay.Read(line);
            }

            var log = _replay.Build(S(at + 0.1), S(0.05), null, null);
            _replay.Dispose();
            Assert.That(_replay.Problems, Is.Empty, () => string.Join('\n', _replay.Problems.Select(p => $"{p.Expectation}: {p.Detail} [{p.FirstOffendingRecord}]")));
            return log;
        }

        private void OnAction(int index, double at, string? sessionId)
        {
            _writer.OnAction(S(at), _fixture.Timeline[index], sessionId);
            if (index < 2)
            {
                _actions.Add(new HostAction(index, sessionId, S(at), TimeSpan.Zero, null));
            }
        }
    }
}
