namespace ContainmentLab.Scenarios.Evidence;

/// <summary>A request the fake agent says it wrote whole, on its output line <paramref name="Line"/>.</summary>
/// <param name="AfterCancel">It had received <c>session/cancel</c> for <paramref name="Session"/> before it began writing it.</param>
internal sealed record AccountSent(long Line, string Id, string Method, string? Session, bool AfterCancel);
