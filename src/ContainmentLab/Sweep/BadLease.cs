namespace ContainmentLab.Sweep;

/// <summary>
/// A file named like a lease that was refused (not a regular file, a symbolic link, another user's, too big) or could not
/// be parsed: reported, left in place, never fatal. Its cookies, if any, are never acted on.
/// </summary>
public sealed record BadLease(string Path, string Reason);
