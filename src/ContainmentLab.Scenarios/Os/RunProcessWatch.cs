namespace ContainmentLab.Scenarios.Os;

/// <summary>
/// The OS evidence of one run: a <see cref="ProcessTreeSampler"/> from the run's start to its end, then the judgement of
/// what outlived it, then the runner's own clean-up of whatever did (so no run leaves anything on the machine, and the
/// clean-up's failures are reported too).
/// </summary>
internal sealed class RunProcessWatch : IDisposable
{
    /// <summary>
    /// How long, after the run ended, the tree may take to be gone. The bridge has already killed and reaped by then
    /// (SIGKILL needs no co-operation), so this only absorbs a loaded machine's scheduling; the wait ends the moment the
    /// tree is gone.
    /// </summary>
    public static readonly TimeSpan SettleBound = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan s_cleanupBound = TimeSpan.FromSeconds(10);

    private readonly Func<TimeSpan> _clock;
    private TimeSpan? _endedAt;

    private RunProcessWatch(ProcessTreeSampler sampler, Func<TimeSpan> clock)
    {
        Sampler = sampler;
        _clock = clock;
    }

    public const string NoProcFs = "no /proc on this platform: no process tree, no exit times from the OS";

    public ProcessTreeSampler Sampler { get; }

    /// <summary>Watches the agents an in-process bridge starts (<paramref name="agentPid"/> is asked at every sample) and their descendants; null without /proc.</summary>
    public static RunProcessWatch? ForAgents(Func<int?> agentPid, Func<TimeSpan> clock, TimeProvider time) =>
        ProcFs.Available
            ? new RunProcessWatch(new ProcessTreeSampler(() => agentPid() is { } pid ? [(pid, ProcessRole.Agent)] : [], clock, time), clock)
            : null;

    /// <summary>Watches everything below <paramref name="reaperPid"/> (a <see cref="ChildReaper"/> the runner started); null without /proc.</summary>
    public static RunProcessWatch? ForReaper(int reaperPid, Func<TimeSpan> clock, TimeProvider time) =>
        ProcFs.Available
            ? new RunProcessWatch(new ProcessTreeSampler(() => [(reaperPid, ProcessRole.Reaper)], clock, time), clock)
            : null;

    /// <summary>From now on deaths are the runner's doing (it stops the bridge, or killed the host). Only the first call counts.</summary>
    public void RunEnding(TimeSpan? at = null) => _endedAt ??= at ?? _clock();

    /// <summary>
    /// Waits (bounded) for the tree to be gone and calls what is still alive leftovers; then runs
    /// <paramref name="cleanUp"/> (the reaper's own end), kills what is left of the tree and checks it went.
    /// </summary>
    public async Task<OsEvidence> FinishAsync(Func<CancellationToken, Task>? cleanUp = null, CancellationToken cancellationToken = default)
    {
        RunEnding();
        var leftovers = await Sampler.WaitUntilGoneAsync(SettleBound, p => p.Role != ProcessRole.Reaper, cancellationToken).ConfigureAwait(false);
        if (cleanUp is not null)
        {
            await cleanUp(cancellationToken).ConfigureAwait(false);
        }

        // Nothing of the run stays on the machine, whatever the verdict: what the bridge left, the runner kills.
        ProcessTreeSampler.Kill(Sampler.Snapshot().Where(p => p.GoneAt is null));
        var failures = await Sampler.WaitUntilGoneAsync(s_cleanupBound, _ => true, cancellationToken).ConfigureAwait(false);
        Sampler.Dispose();
        return new OsEvidence
        {
            Processes = Sampler.Snapshot(),
            AgentDeaths = Sampler.AgentDeaths(),
            RunEndedAt = _endedAt!.Value,
            Leftovers = leftovers,
            SettleBound = SettleBound,
            CleanupFailures = failures,
        };
    }

    public void Dispose()
    {
        // A run that threw before FinishAsync: still leave nothing behind.
        ProcessTreeSampler.Kill(Sampler.Snapshot().Where(p => p.GoneAt is null));
        Sampler.Dispose();
    }
}
