using System.Text.Json;
using System.Text.Json.Serialization;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;

namespace ContainmentLab.Scenarios;

/// <summary>
/// What a kill_host fixture's host process (<see cref="ScenarioHost"/>) streams to its runner on stdout, one JSON object
/// a line (NDJSON), <c>k</c> saying which: <c>hello</c> (its pid), then as they happen <c>event</c> (the typed event:
/// <c>type</c> and its fields in <c>e</c>), <c>in</c> / <c>out</c> (a wire line's exact bytes, base64, with the wire
/// line number <c>n</c> for <c>in</c>) and <c>action</c> (the timeline action's index <c>i</c>), and last <c>state</c>:
/// what is not an event (session ids, action records, turns, audit records, problems), at <c>kill_host</c> or when the
/// run ended without reaching it. <c>t</c> is ticks (100 ns) since the runner's start: the host runs on the runner's clock.
/// </summary>
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
}

/// <summary>The host's run as it stood at <c>kill_host</c> (<see cref="Final"/> <c>kill</c>) or at its end (<c>end</c>).</summary>
internal sealed record HostState(
    string Final,
    IReadOnlyDictionary<string, string> Ids,
    IReadOnlyList<HostAction> Actions,
    IReadOnlyList<HostTurn> Turns,
    IReadOnlyList<AuditRecord> Audit,
    IReadOnlyList<ExpectationFailure> Problems)
{
    public const string Kill = "kill";
    public const string End = "end";

    public static HostState From(string final, RunLog log, IEnumerable<ExpectationFailure> problems) => new(
        final,
        new Dictionary<string, string>(log.SessionIds, StringComparer.Ordinal),
        [.. log.Actions.Select(a => new HostAction(IndexOf(log.Fixture, a.Action), a.SessionId, a.At, a.Took, a.Error))],
        [.. log.Turns.Select(t => new HostTurn(t.Session, t.SessionId, t.Number, t.StartedAt, t.EndedAt, t.Outcome, t.Refusal, t.PendingAtBound))],
        log.Audit,
        [.. problems]);

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
