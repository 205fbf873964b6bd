using ContainmentLab.Bridge;

namespace ContainmentLab.Scenarios;

/// <summary><c>expect:</c> — what must be true after the run.</summary>
public sealed record FixtureExpectations
{
    /// <summary>The guarantees to check (<c>G1</c>…<c>G9</c>); when the fixture lists none, every one but G2 (which needs to know the intent).</summary>
    public IReadOnlyList<GuaranteeExpectation> Guarantees { get; init; } = [];

    public IReadOnlyList<EventExpectation> Events { get; init; } = [];

    public IReadOnlyList<TurnExpectation> Turns { get; init; } = [];

    public IReadOnlyList<WithinExpectation> Within { get; init; } = [];
}

public sealed record GuaranteeExpectation(string Id, SourceMark Mark);

/// <summary>How many events named <see cref="Name"/> (in <see cref="Session"/>, when given) there must be.</summary>
public sealed record EventExpectation(string Name, string? Session, int? Count, int? Min, int? Max, SourceMark Mark)
{
    public override string ToString()
    {
        var bound = Count is { } c ? $"count {c}" : string.Join(' ', new[] { Min is { } lo ? $"min {lo}" : null, Max is { } hi ? $"max {hi}" : null }.Where(s => s is not null));
        return $"events: {Name} {bound}{(Session is null ? string.Empty : $" (session {Session})")}";
    }
}

/// <summary>How the session's turn (its last, or number <see cref="Turn"/>, 1-based) must end.</summary>
/// <param name="End">A <see cref="TurnEnd"/>, or null for a prompt the bridge refused (<c>end: refused</c>) — see <see cref="Refused"/>.</param>
public sealed record TurnExpectation(string Session, TurnEnd? End, bool Refused, string? StopReason, int? Turn, SourceMark Mark)
{
    public override string ToString()
    {
        var end = Refused ? "refused" : End is { } e ? FixtureLoader.SnakeCase(e.ToString()) : "any";
        return $"turns: {Session}{(Turn is { } n ? $" turn {n}" : string.Empty)} ends {end}{(StopReason is null ? string.Empty : $" with stop_reason {StopReason}")}";
    }
}

/// <summary>From the first <see cref="From"/> (an action or an event) to the first <see cref="To"/> event after it, at most <see cref="Max"/>.</summary>
public sealed record WithinExpectation(string From, string To, string? Session, TimeSpan Max, SourceMark Mark)
{
    public override string ToString() =>
        $"within: {From} → {To}{(Session is null ? string.Empty : $" (session {Session})")} ≤ {Durations.Format(Max)}";
}
