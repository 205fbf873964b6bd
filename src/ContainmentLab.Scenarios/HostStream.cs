using System.Text.Json;
using System.Text.Json.Serialization;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;

namespace ContainmentLab.Scenarios;

/// <summary>
/// What a kill_host fixture's host process (<see cref="ScenarioHost"/>) streams to its runner on stdout, one JSON object
/// a line (NDJSON), <c>k</c> saying which: <c>hello</c> (its pid), then as they happen <c>event</c> (the typed event:
/// <c>type</c> and its fields in <c>e</c>), <c>in</c> / <c>out</c> (a wire line's exact bytes, base64, as the bridge
/// handed it on or wrote it; <c>in</c> with the wire line number <c>n</c> and the tap's connection <c>c</c>),
/// <c>action</c> (the timeline action's index <c>i</c>), the runner's wire tap as it records it (<c>tap-…</c>, below),
/// and last <c>state</c>: what is not an event (session ids, action records, turns, audit records, the audit file's
/// path, the timer sample, problems), at <c>kill_host</c> or when the run ended without reaching it. <c>t</c> is ticks
/// (100 ns) since the runner's start: the host runs on the runner's clock.
/// </summary>
/// <remarks>
/// The tap, per agent process <c>c</c> and direction <c>d</c> (<c>agent</c>: its stdout as the bridge read it;
/// <c>bridge</c>: its stdin as the bridge wrote it): <c>tap-open</c> (<c>t</c>, the account's <c>path</c>),
/// <c>tap-pid</c>, <c>tap-begin</c> (call <c>i</c> began at <c>t</c>), <c>tap-written</c> (the <c>len</c> bytes a
/// write call was handed), <c>tap-end</c> (call <c>i</c> returned at <c>t</c>, <c>len</c> bytes read, <c>failed</c>),
/// <c>tap-line</c> (line <c>n</c> as the tap's splitter cut it: first byte at <c>t0</c>, last at <c>t</c>, <c>len</c>,
/// <c>hash</c>, <c>complete</c>, the call <c>i</c> that completed it, and in <c>b</c> only the head the tap keeps, at most
/// <see cref="Evidence.TapStream.HeadBytes"/>), <c>tap-eof</c>, <c>tap-stop</c> (the bridge's first stop, <c>how</c>),
/// <c>tap-exit</c> (the process's <c>exit</c>). So a line costs the stream at most its kept head, whatever its length;
/// a call's raw bytes (<c>b</c> on <c>tap-written</c> / <c>tap-end</c>) come only within the run's raw budget (the
/// runner's transcript budget when it keeps a transcript, else none).
/// </remarks>
internal sealed record HostRecord
{
    public required string K { get; init; }

    public long? T { get; init; }

    public int? Pid { get; init; }

    public string? Type { get; init; }

    public JsonElement? E { get; init; }

    public long? N { get; init; }

    public byte[]? B { get; init; }

    public int? I { get; init; }

    public string? Session { get; init; }

    public HostState? State { get; init; }

    /// <summary>The tap's connection (agent process) the record is about.</summary>
    public int? C { get; init; }

    /// <summary>The tap's direction: <c>agent</c> (its stdout) or <c>bridge</c> (its stdin).</summary>
    public string? D { get; init; }

    public long? T0 { get; init; }

    public long? Len { get; init; }

    public ulong? Hash { get; init; }

    public bool? Complete { get; init; }

    public bool? Failed { get; init; }

    public string? How { get; init; }

    public AgentExit? Exit { get; init; }

    public string? Path { get; init; }
}

/// <summary>The host's run as it stood at <c>kill_host</c> (<see cref="Final"/> <c>kill</c>) or at its end (<c>end</c>).</summary>
/// <param name="At">When the host sent this state: every record it made before is in the stream ahead of it (the runner kills only once it has read the state).</param>
/// <param name="StoppedAt">When the host began stopping its bridge (<c>end</c> only).</param>
/// <param name="AuditPath">The bridge's audit file, for the runner to read back itself.</param>
/// <param name="Timers">The timers armed on the bridge's clock, when the host sampled them before this state.</param>
/// <param name="StartedUtc">The run's start on the host's wall clock: its audit records are placed on the run's timeline from it.</param>
internal sealed record HostState(
    string Final,
    IReadOnlyDictionary<string, string> Ids,
    IReadOnlyList<HostAction> Actions,
    IReadOnlyList<HostTurn> Turns,
    IReadOnlyList<AuditRecord> Audit,
    IReadOnlyList<ExpectationFailure> Problems,
    TimeSpan? At = null,
    TimeSpan? StoppedAt = null,
    string? AuditPath = null,
    TimerSample? Timers = null,
    DateTimeOffset? StartedUtc = null)
{
    public const string Kill = "kill";
    public const string End = "end";

    public static HostState From(string final, RunLog log, IEnumerable<ExpectationFailure> problems, TimeSpan at) => new(
        final,
        new Dictionary<string, string>(log.SessionIds, StringComparer.Ordinal),
        [.. log.Actions.Select(a => new HostAction(IndexOf(log.Fixture, a.Action), a.SessionId, a.At, a.Took, a.Error))],
        [.. log.Turns.Select(t => new HostTurn(t.Session, t.SessionId, t.Number, t.StartedAt, t.EndedAt, t.Outcome, t.Refusal, t.PendingAtBound))],
        log.Audit,
        [.. problems],
        at,
        log.StoppedAt,
        log.Options.AuditPath,
        log.Timers,
        log.StartedUtc);

    internal static int IndexOf(Fixture fixture, TimelineAction action)
    {
        for (var i = 0; i < fixture.Timeline.Count; i++)
        {
            if (ReferenceEquals(fixture.Timeline[i], action))
            {
                return i;
            }
        }

        return -1;
    }
}

internal sealed record HostAction(int Index, string? SessionId, TimeSpan At, TimeSpan Took, string? Error);

internal sealed record HostTurn(string Session, string SessionId, int Number, TimeSpan StartedAt, TimeSpan? EndedAt, TurnOutcome? Outcome, string? Refusal, bool PendingAtBound)
{
    public TurnRecord ToRecord() => new(Session, SessionId, Number, StartedAt)
    {
        EndedAt = EndedAt,
        Outcome = Outcome,
        Refusal = Refusal,
        PendingAtBound = PendingAtBound,
    };
}

/// <summary>The encoding both sides share: web casing, enums by name, nulls left out; events by their record's name.</summary>
internal static class HostStream
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Every event record the bridge can publish, by name: a new one is streamed without a change here.</summary>
    private static readonly Lazy<IReadOnlyDictionary<string, Type>> s_eventTypes = new(() => typeof(ContainmentEvent).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(ContainmentEvent)) && !t.IsAbstract)
        .ToDictionary(t => t.Name, StringComparer.Ordinal));

    public static string Encode(HostRecord record) => JsonSerializer.Serialize(record, Options);

    public static HostRecord Event(TimeSpan at, ContainmentEvent containmentEvent) => new()
    {
        K = "event",
        T = at.Ticks,
        Type = containmentEvent.Name,
        E = JsonSerializer.SerializeToElement(containmentEvent, containmentEvent.GetType(), Options),
    };

    /// <summary>The typed event of an <c>event</c> record; throws <see cref="JsonException"/> when it is not one.</summary>
    public static ContainmentEvent DecodeEvent(HostRecord record)
    {
        if (record.Type is not { } name || !s_eventTypes.Value.TryGetValue(name, out var type) || record.E is not { } fields)
        {
            throw new JsonException($"an event record without a known event type ('{record.Type}')");
        }

        return (ContainmentEvent?)fields.Deserialize(type, Options) ?? throw new JsonException($"an empty {name}");
    }
}
