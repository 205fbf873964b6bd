using ContainmentLab.Sweep;

namespace ContainmentLab.Events;

/// <summary>An orphan sweep ran (G7): what it killed, what survived it, how long it took.</summary>
public sealed record OrphansSwept(DateTimeOffset At, IReadOnlyList<SweptProcess> Killed, IReadOnlyList<SweptProcess> Survivors, int StaleLeases, TimeSpan Duration) : ContainmentEvent(At, null);
