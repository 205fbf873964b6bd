namespace ContainmentLab.Sweep;

/// <summary>
/// What one bridge leaves in the runtime directory while it lives: who it is (pid + start time), its agent, and the
/// cookie its agent's process tree carries. A lease whose host is gone marks orphans to sweep.
/// </summary>
/// <param name="Id">Names the file (<c>ID.lease.json</c>); unique per bridge.</param>
/// <param name="HostPid">The bridge's process.</param>
/// <param name="HostStartTime">Its start time: the same pid with another start time is another process (PID reuse).</param>
/// <param name="Cookie">The value of <see cref="AgentCookie.EnvironmentVariable"/> given to the agent.</param>
public sealed record Lease(string Id, int HostPid, long HostStartTime, string Cookie)
{
    /// <summary>The agent's pid, once it runs (informational: the sweep finds processes by cookie, not by this pid).</summary>
    public int? AgentPid { get; init; }

    public long? AgentStartTime { get; init; }

    /// <summary>The agent's command, for reports.</summary>
    public string? Agent { get; init; }

    /// <summary>The boot the lease was written in; a lease from another boot has no live host.</summary>
    public string? BootId { get; init; }

    /// <summary>When the lease was written, on the host's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset WrittenAt { get; init; }

    /// <summary>A new lease for the current process, with a fresh cookie; null when the process table cannot say when this process started.</summary>
    public static Lease? ForCurrentProcess(IProcessTable table, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(timeProvider);
        var pid = table.CurrentProcessId;
        if (table.GetStartTime(pid) is not { } startTime)
        {
            return null;
        }

        var cookie = AgentCookie.Create();
        return new Lease($"{pid}-{cookie[..8]}", pid, startTime, cookie)
        {
            BootId = table.BootId,
            WrittenAt = timeProvider.GetUtcNow(),
        };
    }
}
