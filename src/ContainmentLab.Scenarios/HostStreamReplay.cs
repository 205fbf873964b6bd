using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Scenarios.Evidence;
using ContainmentLab.Scenarios.Os;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The runner's side of a kill_host host's stream (<see cref="HostRecord"/>, one line at a time): events, wire lines and
/// actions are replayed into the runner's own recorder at the host's times (transcript, report); the host's wire tap is
/// rebuilt (<see cref="TapReplay"/>); and <see cref="Build"/> makes the <see cref="RunLog"/> the oracles judge, with the
/// same evidence as an in-process run: the tap, the agents' own accounts and the audit file (both read back by the
/// runner from disk after the kill: the files outlive the host, and the account is written as it goes), and the timer
/// sample when the host took one before the kill. What the kill cut is described at <see cref="RunLog.HostCutAt"/>.
/// </summary>
internal sealed class HostStreamReplay : IDisposable
{
    private readonly Fixture _fixture;
    private readonly BridgeOptions _options;
    private readonly long _epoch;
    private readonly HostClock _clock;
    private readonly RunRecorder _recorder;
    private readonly TapReplay _tap = new();
    private readonly Dictionary<int, TimeSpan> _actionTimes = [];
    private TimeSpan _lastAt;

    /// <param name="options">The host's bridge options (built from the same fixture and folder as the host's own).</param>
    /// <param name="epoch">The run's start on the system's monotonic clock, which the host runs on too.</param>
    public HostStreamReplay(Fixture fixture, BridgeOptions options, long epoch, string? transcriptPath)
    {
        _fixture = fixture;
        _options = options;
        _epoch = epoch;
        _clock = new HostClock(epoch);
        _recorder = new RunRecorder(_clock, transcriptPath);
    }

    /// <summary>Called with the host's pid (<c>hello</c>) and each agent's (<c>AgentStarted</c>): the runner's sampler tags them.</summary>
    public Action<int, ProcessRole>? Tag { get; init; }

    public List<ExpectationFailure> Problems { get; } = [];

    public int? HostPid { get; private set; }

    public HostState? State { get; private set; }

    /// <summary>Reads one line of the stream; null (with a problem) when it is not a record the runner can use.</summary>
    /// <param name="lastAfterKill">The host's last line, after its SIGKILL: one cut short there (not JSON) is where the kill cut the stream, no problem.</param>
    public HostRecord? Read(string line, bool lastAfterKill = false)
    {
        HostRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<HostRecord>(line, HostStream.Options);
        }
        catch (JsonException) when (lastAfterKill)
        {
            return null;
        }
        catch (JsonException ex)
        {
            Problems.Add(new ExpectationFailure("host stream", null, $"a line the host wrote could not be read: {ex.Message}", line.Length > 300 ? line[..300] + "…" : line, null));
            return null;
        }

        try
        {
            Replay(record ?? throw new JsonException("empty record"));
            return record;
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            Problems.Add(new ExpectationFailure("host stream", null, $"a line the host wrote could not be read: {ex.Message}", line.Length > 300 ? line[..300] + "…" : line, null));
            return null;
        }
    }

    private void Replay(HostRecord record)
    {
        var at = TimeSpan.FromTicks(record.T ?? _lastAt.Ticks);
        if (record.T is not null)
        {
            _clock.Set(_epoch, at);
            _lastAt = at > _lastAt ? at : _lastAt;
        }

        switch (record.K)
        {
            case "hello":
                HostPid = Need(record.Pid, record, "pid");
                Tag?.Invoke(HostPid.Value, ProcessRole.Host);
                break;
            case "event":
                var containmentEvent = HostStream.DecodeEvent(record);
                _recorder.OnEvent(containmentEvent);
                if (containmentEvent is AgentStarted { ProcessId: { } agentPid })
                {
                    Tag?.Invoke(agentPid, ProcessRole.Agent);
                }

                break;
            case "in":
                var line = record.B ?? [];
                _recorder.Received(record.N ?? 0, line);
                if (record.C is { } connection)
                {
                    _tap.BridgeRead(connection, Need(record.N, record, "n"), line);
                }

                break;
            case "out":
                _recorder.Sent(record.B ?? []);
                break;
            case "action":
                var index = Need(record.I, record, "i");
                _actionTimes[index] = at;
                _recorder.OnAction(_fixture.Timeline[index], record.Session, at);
                break;
            case "state":
                State = record.State;
                break;
            case "unencodable":
                throw new JsonException($"the host could not encode an event: {record.Type}");
            default:
                ReplayTap(record, at);
                break;
        }
    }

    private void ReplayTap(HostRecord record, TimeSpan at)
    {
        var c = Need(record.C, record, "c");
        switch (record.K)
        {
            case "tap-open":
                _tap.Opened(c, at, record.Path);
                break;
            case "tap-pid":
                _tap.ProcessId(c, record.Pid);
                break;
            case "tap-begin":
                _tap.CallBegan(c, Direction(record), Need(record.I, record, "i"), at);
                break;
            case "tap-written":
                _tap.CallWritten(c, Direction(record), Need(record.I, record, "i"), checked((int)Need(record.Len, record, "len")));
                Raw(record, at);
                break;
            case "tap-end":
                _tap.CallEnded(c, Direction(record), Need(record.I, record, "i"), at, checked((int)(record.Len ?? 0)), record.Failed == true);
                Raw(record, at);
                break;
            case "tap-line":
                _tap.Line(
                    c,
                    Direction(record),
                    Need(record.N, record, "n"),
                    TimeSpan.FromTicks(Need(record.T0, record, "t0")),
                    at,
                    Need(record.Len, record, "len"),
                    Need(record.Hash, record, "hash"),
                    Need(record.Complete, record, "complete"),
                    Need(record.I, record, "i"),
                    record.B ?? []);
                break;
            case "tap-eof":
                _tap.EndOfStream(c, Direction(record), at);
                break;
            case "tap-stop":
                _tap.GaveUp(c, at, record.How ?? "?");
                break;
            case "tap-exit":
                _tap.Exited(c, at, record.Exit);
                break;
            default:
                throw new JsonException($"unknown record kind '{record.K}'");
        }
    }

    /// <summary>A call's raw bytes to the runner's transcript (only the length when the host's raw budget was spent).</summary>
    private void Raw(HostRecord record, TimeSpan at)
    {
        if (record.Len is > 0 and var length)
        {
            _recorder.Wire.Raw(record.C!.Value, Direction(record), at, record.B ?? [], checked((int)length));
        }
    }

    private static TapDirection Direction(HostRecord record) => record.D switch
    {
        "agent" => TapDirection.FromAgent,
        "bridge" => TapDirection.ToAgent,
        _ => throw new JsonException($"a '{record.K}' record with direction '{record.D}' (agent or bridge)"),
    };

    private static T Need<T>(T? value, HostRecord record, string name)
        where T : struct => value ?? throw new JsonException($"a '{record.K}' record without '{name}'");

    /// <summary>
    /// The run log of the host's run: what it streamed, the state it sent at kill_host, and what the runner reads back
    /// from disk itself (the agents' accounts, the audit file) — after the kill, the sweep and the end of the tree, so
    /// nothing is still writing them.
    /// </summary>
    /// <param name="killedAt">When the runner SIGKILLed the host (null: it never asked to be).</param>
    public RunLog Build(TimeSpan? killedAt, TimeSpan killTook, KillHostRecord? sweep, OsEvidence? os)
    {
        var state = State;
        Problems.AddRange(state?.Problems ?? []);
        var actions = (state?.Actions ?? []).Select(a => new ActionRecord(_fixture.Timeline[a.Index], a.SessionId, a.At, a.Took, a.Error)).ToList();
        var killIndex = _fixture.Timeline.ToList().FindIndex(a => a.Kind == ActionKind.KillHost);
        if (killedAt is { } killed && _actionTimes.TryGetValue(killIndex, out var requested))
        {
            actions.Add(new ActionRecord(_fixture.Timeline[killIndex], null, requested, killed + killTook - requested, null));
        }

        var turns = (state?.Turns ?? []).Select(t => t.ToRecord()).ToList();
        var events = _recorder.Events;
        foreach (var turn in turns.Where(t => t.EndedAt is null && !t.PendingAtBound && killedAt is not null))
        {
            // The state was taken when kill_host ran; a turn whose TurnEnded the host published just before (say the
            // very event kill_host waited for) may not have had its record completed yet. Its events tell how it ended.
            if (EndedByEvent(events, turn) is { } ended)
            {
                turn.EndedAt = ended.At;
                turn.Outcome = ((TurnEnded)ended.Event).Outcome;
            }
            else
            {
                // Ended by the host's death, which is not the SIGKILL's sending: the host runs on until the kernel
                // stops each of its threads (a dispatch stamped a few ms after the kill was seen). Its death as the
                // runner saw it (gone from /proc) comes after anything the host did.
                turn.EndedAt = killedAt + killTook;
                turn.CutByKillHost = true;
            }
        }

        // The stream is whole up to the state the host sent at kill_host; with no state at all (the host died on its
        // own), up to its last record.
        TimeSpan? cut = state is null ? _lastAt : state.Final == HostState.Kill ? state.At ?? _lastAt : null;
        var wire = _tap.Snapshot();
        var (auditFile, auditError) = ReadAuditFile(state?.AuditPath ?? _options.AuditPath, wire.Count > 0);
        return new RunLog(
            _fixture,
            _options,
            new Dictionary<string, string>(state?.Ids ?? new Dictionary<string, string>(), StringComparer.Ordinal),
            events,
            actions,
            turns,
            state?.Audit ?? [],
            _recorder.ToolActivity,
            sweep)
        {
            Wire = wire,
            Accounts = ScenarioRun.ReadAccounts(wire),
            AuditFile = auditFile,
            AuditFileError = auditError,
            Timers = state?.Timers,
            StoppedAt = cut ?? state?.StoppedAt,
            HostCutAt = cut,
            Os = os,
            StartedUtc = state?.StartedUtc ?? _recorder.StartedUtc,
        };
    }

    /// <summary>The host's audit file as the kill left it: what the host had written to the OS survives its SIGKILL.</summary>
    private static (IReadOnlyList<AuditRecord>? Records, string? Error) ReadAuditFile(string? path, bool bridgeRan)
    {
        if (path is null || (!bridgeRan && !File.Exists(path)))
        {
            return (null, null);
        }

        try
        {
            return (AuditLog.ReadFile(path), null);
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return (null, ex.Message);
        }
    }

    /// <summary>The TurnEnded of the turn: the first one in its session after its TurnStarted (a session runs one turn at a time).</summary>
    private static RecordedEvent? EndedByEvent(IReadOnlyList<RecordedEvent> events, TurnRecord turn)
    {
        var started = events.FirstOrDefault(e => e.Event is TurnStarted s && s.Id == turn.SessionId && s.Turn == turn.Number);
        return started is null ? null : events.FirstOrDefault(e => e.At >= started.At && e.Event is TurnEnded ended && ended.Id == turn.SessionId);
    }

    public void Dispose() => _recorder.Dispose();
}
