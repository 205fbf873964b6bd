namespace ContainmentLab.Sweep;

/// <summary>What one sweep found and did.</summary>
/// <param name="DryRun">Nothing was signalled and no lease removed; <see cref="Found"/> is what a real sweep would kill.</param>
/// <param name="LeasesExamined">Valid leases read (live and stale).</param>
/// <param name="StaleLeases">Leases whose host is gone.</param>
/// <param name="BadLeases">Files that are not valid leases or were refused (left in place, never acted on).</param>
/// <param name="Found">Every process that carried a stale lease's cookie when the sweep looked.</param>
/// <param name="Killed">Processes the sweep signalled that are now gone.</param>
/// <param name="Survivors">Processes with a stale cookie still alive when the sweep gave up (their lease stays).</param>
/// <param name="Duration">How long the sweep took, on the sweeper's TimeProvider.</param>
public sealed record SweepReport(
    bool DryRun,
    int LeasesExamined,
    IReadOnlyList<StaleLease> StaleLeases,
    IReadOnlyList<BadLease> BadLeases,
    IReadOnlyList<SweptProcess> Found,
    IReadOnlyList<SweptProcess> Killed,
    IReadOnlyList<SweptProcess> Survivors,
    TimeSpan Duration)
{
    /// <summary>Why the lease directory cannot be trusted (see <see cref="LeaseScan.DirectoryProblem"/>); null when it can.</summary>
    public string? DirectoryProblem { get; init; }
}
