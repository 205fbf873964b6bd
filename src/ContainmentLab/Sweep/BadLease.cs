namespace ContainmentLab.Sweep;

/// <summary>A lease file that could not be read or parsed: reported, left in place, never fatal.</summary>
public sealed record BadLease(string Path, string Reason);
