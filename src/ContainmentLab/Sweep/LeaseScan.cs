namespace ContainmentLab.Sweep;

/// <summary>Every lease in the runtime directory, and the files that are not valid leases.</summary>
public sealed record LeaseScan(IReadOnlyList<Lease> Leases, IReadOnlyList<BadLease> BadLeases);
