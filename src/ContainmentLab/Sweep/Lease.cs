using System.Text.Json.Serialization;

namespace ContainmentLab.Sweep;

/// <summary>
/// What one bridge leaves in the runtime directory while it lives: who it is (pid + start time), and every cookie whose
/// carriers may still run — its own, and one per agent incarnation. A lease whose host is gone marks orphans to sweep.
/// </summary>
/// <param name="Id">Names the file (<c>ID.lease.json</c>); unique per bridge.</param>
/// <param name="HostPid">The bridge's process.</param>
/// <param name="HostStartTime">Its start time: the same pid with another start time is another process (PID reuse).</param>
/// <param name="Cookie">
/// The host's own cookie (<see cref="AgentCookie.EnvironmentVariable"/>): every process the host starts itself carries it
/// (terminals). In a lease written before agent cookies existed (one <c>cookie</c>, no <c>agentCookies</c>) it is the
/// agent's; either way the sweep kills its carriers.
/// </param>
public sealed record Lease(string Id, int HostPid, long HostStartTime, string Cookie)
{
    private readonly IReadOnlyList<string> _agentCookies = [];

    /// <summary>
    /// The cookie of each agent incarnation whose processes may still run, oldest first: one per agent start, so the
    /// leftover kill of a dead agent cannot reach the agent started after it. A cookie leaves the lease once its agent
    /// is dead and nothing carries it.
    /// </summary>
    public IReadOnlyList<string> AgentCookies
    {
        get => _agentCookies;

        // The source-generated reader sets every init property, a missing one to null: an old lease has none.
        init => _agentCookies = value ?? [];
    }

    /// <summary>Every cookie the sweep kills the carriers of: <see cref="Cookie"/>, then <see cref="AgentCookies"/>.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Cookies => [.. AgentCookies.Prepend(Cookie).Distinct(StringComparer.Ordinal)];

    /// <summary>The latest agent's pid, once it runs (informational: the sweep finds processes by cookie, not by this pid).</summary>
    public int? AgentPid { get; init; }

    public long? AgentStartTime { get; init; }

    /// <summary>The latest agent's command, for reports.</summary>
    public string? Agent { get; init; }

    /// <summary>The boot the lease was written in; a lease from another boot has no live host.</summary>
    public string? BootId { get; init; }

    /// <summary>When the lease was written, on the host's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset WrittenAt { get; init; }

    /// <summary>A new lease for the current process, with a fresh host cookie; null when the process table cannot say when this process started.</summary>
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

    // A record compares lists by reference: a lease read back must equal the one written.
    public bool Equals(Lease? other) =>
        other is not null
        && Id == other.Id
        && HostPid == other.HostPid
        && HostStartTime == other.HostStartTime
        && Cookie == other.Cookie
        && AgentCookies.SequenceEqual(other.AgentCookies, StringComparer.Ordinal)
        && AgentPid == other.AgentPid
        && AgentStartTime == other.AgentStartTime
        && Agent == other.Agent
        && BootId == other.BootId
        && WrittenAt == other.WrittenAt;

    public override int GetHashCode() => HashCode.Combine(Id, HostPid, HostStartTime, Cookie, AgentCookies.Count, AgentPid, BootId, WrittenAt);
}
