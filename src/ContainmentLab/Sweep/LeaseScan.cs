namespace ContainmentLab.Sweep;

/// <summary>Every lease in the runtime directory, and the files that are not valid leases.</summary>
public sealed record LeaseScan(IReadOnlyList<Lease> Leases, IReadOnlyList<BadLease> BadLeases)
{
    /// <summary>
    /// Why the directory itself cannot be trusted (another user's, writable by others, a symbolic link, not a
    /// directory); null when it can. Even then the lease files of ours in it are read, unless it is not a directory.
    /// </summary>
    public string? DirectoryProblem { get; init; }
}
