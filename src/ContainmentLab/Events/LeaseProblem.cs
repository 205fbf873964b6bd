namespace ContainmentLab.Events;

/// <summary>
/// G7 does not fully hold: a lease could not be written or removed (the processes it would name escape a sweep after this
/// host dies), or a sweep refused a lease file or the lease directory (another user's, a FIFO, a link, too big).
/// </summary>
/// <param name="Path">The lease file or the lease directory.</param>
/// <param name="Reason">What is wrong, in words.</param>
public sealed record LeaseProblem(DateTimeOffset At, string Path, string Reason) : ContainmentEvent(At, null);
