namespace ContainmentLab.Sweep;

/// <summary>
/// Kills the process trees of dead hosts (G7). A lease is stale when its host pid is gone or now belongs to a process
/// with another start time. Its orphans are every live process carrying one of its cookies — the host's own (its
/// terminals) and each agent incarnation's, with all their descendants, however deep and whoever reparented them — found
/// by cookie, never by name. Only leases the registry accepts are acted on (regular files of ours: <see cref="LeaseRegistry.ReadAll"/>). Each is re-verified (pid + start time +
/// cookie) immediately before each signal: SIGTERM to all, a grace, then SIGKILL to every survivor. Processes of live
/// hosts, processes without a stale cookie, and this process are never signalled.
/// </summary>
public sealed class OrphanSweeper
{
    // Descendants forked after a scan (during the grace) carry the cookie too: each SIGKILL round scans afresh.
    private const int MaxKillRounds = 3;

    private readonly LeaseRegistry _registry;
    private readonly IProcessTable _table;
    private readonly OrphanSweepOptions _options;
    private readonly TimeProvider _time;

    public OrphanSweeper(LeaseRegistry registry, IProcessTable table, OrphanSweepOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(table);
        _registry = registry;
        _table = table;
        _options = options ?? new OrphanSweepOptions();
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Sweeps once. With <paramref name="dryRun"/> it only reports what it would kill.</summary>
    public async Task<SweepReport> SweepAsync(bool dryRun = false, CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        var scan = _registry.ReadAll();
        var stale = new List<(Lease Lease, string Reason)>();
        foreach (var lease in scan.Leases)
        {
            if (HostGoneReason(lease) is { } reason)
            {
                stale.Add((lease, reason));
            }
        }

        var cookies = stale.ToDictionary(s => s.Lease.Id, s => s.Lease.Cookies, StringComparer.Ordinal);
        var found = FindCarriers(stale);
        if (dryRun || stale.Count == 0)
        {
            return new SweepReport(dryRun, scan.Leases.Count, [.. stale.Select(s => new StaleLease(s.Lease, s.Reason, false))], scan.BadLeases, found, [], [], _time.GetElapsedTime(started))
            {
                DirectoryProblem = scan.DirectoryProblem,
            };
        }

        var signalled = new Dictionary<ProcessIdentity, SweptProcess>();
        foreach (var target in found)
        {
            if (Verify(target, cookies) && _table.Signal(target.Process.Pid, ProcessSignal.Terminate))
            {
                signalled[target.Process] = target;
            }
        }

        await WaitGoneAsync([.. signalled.Values], cookies, cancellationToken).ConfigureAwait(false);

        for (var round = 0; round < MaxKillRounds; round++)
        {
            var carriers = FindCarriers(stale);
            if (carriers.Count == 0)
            {
                break;
            }

            var killed = new List<SweptProcess>();
            foreach (var target in carriers)
            {
                if (Verify(target, cookies) && _table.Signal(target.Process.Pid, ProcessSignal.Kill))
                {
                    var forced = signalled.TryGetValue(target.Process, out var earlier) ? earlier with { Forced = true } : target with { Forced = true };
                    signalled[target.Process] = forced;
                    killed.Add(forced);
                }
            }

            await WaitGoneAsync(killed, cookies, cancellationToken).ConfigureAwait(false);
        }

        var survivors = FindCarriers(stale);
        var staleLeases = new List<StaleLease>();
        foreach (var (lease, reason) in stale)
        {
            // A lease goes only when nothing of it is left, so the next sweep can still find what this one could not kill.
            var removed = !survivors.Any(s => s.LeaseId == lease.Id);
            if (removed)
            {
                _registry.Delete(lease);
            }

            staleLeases.Add(new StaleLease(lease, reason, removed));
        }

        var gone = signalled.Values.Where(p => !survivors.Any(s => s.Process == p.Process)).OrderBy(p => p.Process.Pid).ToList();
        return new SweepReport(false, scan.Leases.Count, staleLeases, scan.BadLeases, found, gone, survivors, _time.GetElapsedTime(started))
        {
            DirectoryProblem = scan.DirectoryProblem,
        };
    }

    /// <summary>Why the lease's host counts as gone, or null while it lives.</summary>
    private string? HostGoneReason(Lease lease)
    {
        if (lease.BootId is { } leaseBoot && _table.BootId is { } boot && !string.Equals(leaseBoot, boot, StringComparison.Ordinal))
        {
            return $"written in another boot ({leaseBoot})";
        }

        return _table.GetStartTime(lease.HostPid) switch
        {
            null => $"host pid {lease.HostPid} is gone",
            { } start when start != lease.HostStartTime => $"host pid {lease.HostPid} now belongs to another process (start time {start}, the lease says {lease.HostStartTime})",
            _ => null,
        };
    }

    private List<SweptProcess> FindCarriers(List<(Lease Lease, string Reason)> stale)
    {
        var carriers = new List<SweptProcess>();
        if (stale.Count == 0)
        {
            return carriers;
        }

        foreach (var pid in _table.EnumerateProcessIds())
        {
            if (pid == _table.CurrentProcessId || _table.GetStartTime(pid) is not { } start)
            {
                continue;
            }

            foreach (var (lease, _) in stale)
            {
                if (CarriesAny(pid, lease.Cookies))
                {
                    carriers.Add(new SweptProcess(new ProcessIdentity(pid, start), _table.GetCommandLine(pid) ?? "?", lease.Id, Forced: false));
                    break;
                }
            }
        }

        return carriers;
    }

    /// <summary>Still the same process (pid + start time) and still carrying one of its lease's cookies: only then may it be signalled.</summary>
    private bool Verify(SweptProcess target, Dictionary<string, IReadOnlyList<string>> cookies) =>
        target.Process.Pid != _table.CurrentProcessId
        && _table.GetStartTime(target.Process.Pid) == target.Process.StartTime
        && CarriesAny(target.Process.Pid, cookies[target.LeaseId]);

    private bool CarriesAny(int pid, IReadOnlyList<string> cookies) =>
        cookies.Any(cookie => _table.HasEnvironmentEntry(pid, AgentCookie.EnvironmentVariable, cookie) == true);

    /// <summary>Polls until none of <paramref name="targets"/> remains, for at most the grace.</summary>
    private async Task WaitGoneAsync(List<SweptProcess> targets, Dictionary<string, IReadOnlyList<string>> cookies, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        while (targets.Any(t => Verify(t, cookies)) && _time.GetElapsedTime(started) < _options.Grace)
        {
            await Task.Delay(_options.PollInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }
}
