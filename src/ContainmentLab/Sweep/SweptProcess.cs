namespace ContainmentLab.Sweep;

/// <summary>A process that carried a dead host's cookie.</summary>
/// <param name="Process">Its pid and start time, as verified before each signal.</param>
/// <param name="CommandLine">For the report.</param>
/// <param name="LeaseId">The lease whose cookie it carried.</param>
/// <param name="Forced">It outlived SIGTERM (or appeared during the grace) and needed SIGKILL.</param>
public sealed record SweptProcess(ProcessIdentity Process, string CommandLine, string LeaseId, bool Forced);
