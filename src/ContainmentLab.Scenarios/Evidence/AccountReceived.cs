namespace ContainmentLab.Scenarios.Evidence;

/// <summary>A request or notification the fake agent says the bridge sent it.</summary>
internal sealed record AccountReceived(long Line, string Method, string? Id, string? Session, bool AfterCancel);
