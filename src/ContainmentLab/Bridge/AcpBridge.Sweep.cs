using ContainmentLab.Events;
using ContainmentLab.Sweep;
using Microsoft.Extensions.Logging;

namespace ContainmentLab.Bridge;

public sealed partial class AcpBridge
{
    private readonly Lock _leaseLock = new();
    private readonly CancellationTokenSource _sweepCancellation = new();
    private IProcessTable? _processTable;
    private LeaseRegistry? _leases;
    private HostLease? _hostLease;
    private bool _leaseTried;
    private int _sweepStarted;

    /// <summary>
    /// Before the agent starts: sweep orphans of dead hosts (in the background), and give this agent incarnation a
    /// cookie of its own, written into the lease first. Each start gets a fresh cookie, so a dead agent's leftover kill
    /// (<see cref="KillAgentLeftovers"/>, run by its watcher, perhaps after the next agent started) cannot reach the next.
    /// </summary>
    private AgentCommand PrepareAgentCommand(AgentCommand command, out string? cookie)
    {
        cookie = null;
        var sweep = _options.Sweep;
        if (sweep.SweepAtStart && ProcessTable() is { } table && Interlocked.Exchange(ref _sweepStarted, 1) == 0)
        {
            // In the background: the agent's start must not wait out the orphans' grace. Our own lease's host is
            // alive (us), so the sweep cannot touch the agent we are about to start.
            var sweeper = new OrphanSweeper(Leases(), table, sweep, _time);
            _ = Task.Run(() => SweepInBackgroundAsync(sweeper, _sweepCancellation.Token));
        }

        cookie = EnsureHostLease()?.BeginAgent(command.ToString());
        if (cookie is null)
        {
            return command;
        }

        var environment = new Dictionary<string, string>(command.Environment, StringComparer.Ordinal)
        {
            [AgentCookie.EnvironmentVariable] = cookie,
        };
        return command with { Environment = environment };
    }

    /// <summary>The cookie for the processes the bridge starts itself (terminals): the lease names it before the first one starts.</summary>
    private string? HostProcessCookie() => EnsureHostLease()?.HostCookie();

    /// <summary>The agent process is running: record it in this bridge's lease.</summary>
    private void OnAgentProcessStarted(IAgentTransport transport, string? cookie)
    {
        if (transport.ProcessId is { } pid && cookie is not null)
        {
            EnsureHostLease()?.AgentStarted(cookie, pid);
        }
    }

    /// <summary>
    /// The agent with <paramref name="cookie"/> is dead (or being stopped): whatever still carries its cookie is a
    /// descendant it left behind (reparented, so the tree kill missed it). Each is killed, re-verified by start time;
    /// carriers of other cookies (a later agent, the bridge's terminals) are not touched. Returns how many were killed.
    /// </summary>
    private int KillAgentLeftovers(string? cookie) => cookie is null ? 0 : EnsureHostLease()?.KillAgentLeftovers(cookie) ?? 0;

    /// <summary>The bridge is stopping for good: its lease goes, unless something still carries one of its cookies.</summary>
    private void ReleaseLease()
    {
        _sweepCancellation.Cancel();
        HostLease? lease;
        lock (_leaseLock)
        {
            lease = _hostLease;
        }

        if (lease is not null && lease.Release())
        {
            // Killing the agent's tree misses descendants that were already reparented. Once this host is gone the
            // lease is stale, and the next sweep finishes them.
            LogLeaseKept(_logger, lease.Path);
        }
    }

    /// <summary>This bridge's lease, made on first need; null when leases are off or this OS has no process table.</summary>
    private HostLease? EnsureHostLease()
    {
        lock (_leaseLock)
        {
            if (!_leaseTried && _options.Sweep.Enabled && _disposed == 0)
            {
                _leaseTried = true;
                if (ProcessTable() is { } table)
                {
                    _hostLease = new HostLease(Leases(), table, _time, ReportLeaseProblem);
                }
            }

            return _hostLease;
        }
    }

    private IProcessTable? ProcessTable()
    {
        lock (_leaseLock)
        {
            return _processTable ??= ProcessTables.ForCurrentPlatform(); // none for this OS yet: no lease, no sweep (README)
        }
    }

    private LeaseRegistry Leases()
    {
        lock (_leaseLock)
        {
            return _leases ??= new LeaseRegistry(_options.Sweep.RuntimeDirectory);
        }
    }

    /// <summary>A lease not written or removed, a lease file or directory refused: logged and published, never fatal.</summary>
    private void ReportLeaseProblem(string path, string reason)
    {
        LogLeaseFailed(_logger, path, reason);
        Events.Publish(new LeaseProblem(_time.GetUtcNow(), path, reason));
    }

    private async Task SweepInBackgroundAsync(OrphanSweeper sweeper, CancellationToken cancellationToken)
    {
        try
        {
            var report = await sweeper.SweepAsync(dryRun: false, cancellationToken).ConfigureAwait(false);
            if (report.DirectoryProblem is { } problem)
            {
                ReportLeaseProblem(Leases().Directory, problem);
            }

            foreach (var bad in report.BadLeases)
            {
                LogBadLease(_logger, bad.Path, bad.Reason);
                Events.Publish(new LeaseProblem(_time.GetUtcNow(), bad.Path, bad.Reason));
            }

            if (report.StaleLeases.Count > 0)
            {
                Events.Publish(new OrphansSwept(_time.GetUtcNow(), report.Killed, report.Survivors, report.StaleLeases.Count, report.Duration));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The bridge was disposed mid-sweep: the stale leases stay, the next sweep finishes the job.
        }
#pragma warning disable CA1031 // A failed sweep is logged; it must never break the bridge's start.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogSweepFailed(_logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease {Path}: {Reason}")]
    private static partial void LogLeaseFailed(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lease {Path} kept: processes with this bridge's cookie outlived the agent; a later sweep removes them")]
    private static partial void LogLeaseKept(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bad lease file {Path}: {Reason}")]
    private static partial void LogBadLease(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The orphan sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
