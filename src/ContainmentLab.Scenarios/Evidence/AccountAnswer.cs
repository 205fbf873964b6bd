namespace ContainmentLab.Scenarios.Evidence;

/// <summary>An answer the fake agent says it received (on its input line <paramref name="Line"/>).</summary>
/// <param name="Known">The id was one of its pending requests.</param>
/// <param name="Outcome">A permission answer's outcome (<c>selected</c>, <c>cancelled</c>), when it succeeded.</param>
internal sealed record AccountAnswer(long Line, string Id, bool Known, int? Error, string? Outcome, bool AfterCancel);
