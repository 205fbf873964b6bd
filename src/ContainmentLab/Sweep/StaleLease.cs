namespace ContainmentLab.Sweep;

/// <summary>A lease whose host is gone.</summary>
/// <param name="Lease">The lease as read.</param>
/// <param name="Reason">Why the host counts as gone (pid gone, pid reused, another boot).</param>
/// <param name="Removed">The lease file was deleted: none of its processes remain.</param>
public sealed record StaleLease(Lease Lease, string Reason, bool Removed);
