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
    private Lease? _lease;
    private int _sweepStarted;

    /// <summary>Before the agent starts: sweep orphans of dead hosts, and give the agent this bridge's cookie.</summary>
    /// <remarks>
    /// The lease is written before the agent starts (agent pid still unknown), so a host killed between the agent's
    /// start and <see cref="OnAgentProcessStarted"/> still leaves a lease naming the cookie its orphans carry. One cookie
    /// per bridge, kept across agent restarts: leftovers of an earlier agent are swept with the later one's.
    /// </remarks>
    private AgentCommand PrepareAgentCommand(AgentCommand command)
    {
        var sweep = _options.Sweep;
        if (!sweep.Enabled && !sweep.SweepAtStart)
        {
            return command;
        }

        lock (_leaseLock)
        {
            _processTable ??= ProcessTables.ForCurrentPlatform();
            if (_processTable is null)
            {
                return command; // no process table for this OS yet: no lease, no sweep (README)
            }

            _leases ??= new LeaseRegistry(sweep.RuntimeDirectory);
            if (sweep.SweepAtStart && Interlocked.Exchange(ref _sweepStarted, 1) == 0)
            {
                // In the background: the agent's start must not wait out the orphans' grace. Our own lease's host is
                // alive (us), so the sweep cannot touch the agent we are about to start.
                var sweeper = new OrphanSweeper(_leases, _processTable, sweep, _time);
                _ = Task.Run(() => SweepInBackgroundAsync(sweeper, _sweepCancellation.Token));
            }

            if (!sweep.Enabled)
            {
                return command;
            }

            _lease ??= Lease.ForCurrentProcess(_processTable, _time);
            if (_lease is null)
            {
                return command;
            }

            _lease = _lease with { Agent = command.ToString(), AgentPid = null, AgentStartTime = null, WrittenAt = _time.GetUtcNow() };
            WriteLease(_lease);
            var environment = new Dictionary<string, string>(command.Environment, StringComparer.Ordinal)
            {
                [AgentCookie.EnvironmentVariable] = _lease.Cookie,
            };
            return command with { Environment = environment };
        }
    }

    /// <summary>The agent process is running: record it in this bridge's lease.</summary>
    private void OnAgentProcessStarted(IAgentTransport transport)
    {
        if (transport.ProcessId is not { } pid)
        {
            return; // an in-process agent: nothing to sweep
        }

        lock (_leaseLock)
        {
            if (_lease is null || _processTable is null)
            {
                return; // started without our cookie (a TransportFactory, or leases off)
            }

            _lease = _lease with { AgentPid = pid, AgentStartTime = _processTable.GetStartTime(pid), WrittenAt = _time.GetUtcNow() };
            WriteLease(_lease);
        }
    }

    /// <summary>
    /// The agent is dead (or being stopped): whatever still carries this bridge's cookie is a descendant it left behind
    /// (reparented, so the tree kill missed it). Kill each, re-verified by start time and cookie, before a fresh agent
    /// with the same cookie starts. Returns how many were killed.
    /// </summary>
    private int KillAgentLeftovers()
    {
        lock (_leaseLock)
        {
            if (_lease is null || _processTable is null)
            {
                return 0;
            }

            var killed = 0;
            foreach (var carrier in AgentCookie.Carriers(_processTable, _lease.Cookie).ToList())
            {
                // Re-checked just before the signal: the pid must still be the process we found.
                if (_processTable.GetStartTime(carrier.Pid) == carrier.StartTime && _processTable.Signal(carrier.Pid, ProcessSignal.Kill))
                {
                    killed++;
                }
            }

            return killed;
        }
    }

    /// <summary>The bridge is stopping for good: its lease goes.</summary>
    private void ReleaseLease()
    {
        _sweepCancellation.Cancel();
        lock (_leaseLock)
        {
            if (_lease is null || _leases is null || _processTable is null)
            {
                return;
            }

            // Killing the agent's tree misses descendants that were already reparented. While any process still carries
            // our cookie the lease stays: once this host is gone it is stale, and the next sweep finishes them.
            if (AgentCookie.AnyCarrier(_processTable, _lease.Cookie))
            {
                LogLeaseKept(_logger, _leases.PathOf(_lease));
            }
            else
            {
                try
                {
                    _leases.Delete(_lease);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    LogLeaseFailed(_logger, _leases.PathOf(_lease), ex.Message);
                }
            }

            _lease = null;
        }
    }

    private void WriteLease(Lease lease)
    {
        try
        {
            _leases!.Write(lease);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The agent still runs (with its cookie); only a later sweep of this bridge's orphans is lost.
            LogLeaseFailed(_logger, _leases!.PathOf(lease), ex.Message);
        }
    }

    private async Task SweepInBackgroundAsync(OrphanSweeper sweeper, CancellationToken cancellationToken)
    {
        try
        {
            var report = await sweeper.SweepAsync(dryRun: false, cancellationToken).ConfigureAwait(false);
            foreach (var bad in report.BadLeases)
            {
                LogBadLease(_logger, bad.Path, bad.Reason);
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
