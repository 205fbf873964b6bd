using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Scenarios.Os;
using ContainmentLab.Sweep;

namespace ContainmentLab.Scenarios;

/// <summary>
/// A <c>kill_host</c> fixture, the runner's side. The fixture runs in a host process of its own
/// (<see cref="ScenarioHost"/>), started under a <see cref="ChildReaper"/>, and streams everything it sees
/// (<see cref="HostStream"/>); the runner replays that (<see cref="HostStreamReplay"/>) into its own recorder — so
/// transcript, report and oracles see the host's events, wire lines, actions and wire tap at the host's times — and
/// samples the reaper's whole tree from the OS. At <c>kill_host</c> the host says so, and the runner SIGKILLs it (the
/// host alone, as a desktop app dies), runs the orphan sweep on its lease directory, checks that nothing of the tree
/// outlived it (G7), and reads back the agents' accounts and the audit file the host left on disk.
/// </summary>
/// <remarks>
/// The runner's <see cref="ScenarioRunOptions.TimeProvider"/> does not apply: two processes share only the OS's
/// monotonic clock. The bridge options are built by a <see cref="ScenarioRun"/> over the same fixture and folder as the
/// host's own, so they are the host's.
/// </remarks>
internal sealed class HostProcessRun : IAsyncDisposable
{
    private static readonly TimeSpan s_hostDeathBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_drainBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_reaperBound = TimeSpan.FromSeconds(20);
    private const int StderrTailChars = 8192;

    private readonly Fixture _fixture;
    private readonly ScenarioRunOptions _options;
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly string _workDirectory;
    private readonly ScenarioRun _template;
    private readonly long _epoch;
    private readonly StringBuilder _stderr = new();
    private HostStreamReplay? _replay;

    public HostProcessRun(Fixture fixture, ScenarioRunOptions options)
    {
        _fixture = fixture;
        _options = options;
        _workDirectory = Directory.CreateTempSubdirectory("containmentlab-fixture-").FullName;
        _template = new ScenarioRun(fixture, options with { TranscriptPath = null, WorkDirectory = _workDirectory, Epoch = null, HostStream = null });
        _epoch = _time.GetTimestamp();
    }

    public BridgeOptions BridgeOptions => _template.BridgeOptions;

    /// <summary>What went wrong running the fixture (the host's own problems and the stream's among them, once the run ended).</summary>
    public List<ExpectationFailure> Problems { get; } = [];

    public TimeSpan Duration { get; private set; }

    private TimeSpan Now => _time.GetElapsedTime(_epoch);

    public async Task<RunLog> ExecuteAsync(CancellationToken cancellationToken)
    {
        using var bound = new CancellationTokenSource(_options.RunTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bound.Token);
        var token = linked.Token;
        var fixturePath = Path.Combine(_workDirectory, "fixture.json");
        await File.WriteAllTextAsync(fixturePath, JsonSerializer.Serialize(_fixture, HostStream.Options), token).ConfigureAwait(false);

        var info = new ProcessStartInfo(_options.HostPath) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])[ChildReaper.Verb, "--", _options.HostPath, .. ScenarioHost.CommandLine(fixturePath, _workDirectory, _options, _epoch)])
        {
            info.ArgumentList.Add(argument);
        }

        using var reaper = Process.Start(info) ?? throw new InvalidOperationException($"could not start {_options.HostPath}");
        using var os = RunProcessWatch.ForReaper(reaper.Id, () => Now, _time)!;
        var replay = _replay = new HostStreamReplay(_fixture, BridgeOptions, _epoch, _options.TranscriptPath) { Tag = os.Sampler.Tag };
        var stderr = ReadStderrAsync(reaper.StandardError);
        var run = new HostRun();
        try
        {
            await ReadStreamAsync(reaper, os, replay, run, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Problems.Add(new ExpectationFailure("run", null, $"the run did not end within its bound of {Durations.Format(_options.RunTimeout)}", Tail(), null));
        }

        os.RunEnding(run.KilledAt ?? Now);
        KillHostRecord? sweep = null;
        if (run.KilledAt is { } killedAt)
        {
            sweep = await SweepAfterKillAsync(killedAt, CancellationToken.None).ConfigureAwait(false);
        }
        else if (replay.State is null)
        {
            Problems.Add(new ExpectationFailure("host", null, "the host process ended before it reached kill_host or reported how its run stood", Tail(), null));
        }
        else
        {
            Problems.Add(new ExpectationFailure("timeline: kill_host", null, "the host's timeline ended without reaching kill_host", null, null));
        }

        // After the sweep, the judgement: everything of the tree but the reaper must be gone. Then the reaper ends,
        // killing whatever is left below it, and the runner checks that it did.
        var evidence = await os.FinishAsync(ct => EndReaperAsync(reaper, ct), CancellationToken.None).ConfigureAwait(false);
        await stderr.ConfigureAwait(false);
        Duration = Now;

        // Built after the tree is gone: the agents' accounts and the audit file are read back from disk, finished.
        var log = replay.Build(run.KilledAt, run.KillTook, sweep, evidence);
        Problems.InsertRange(0, replay.Problems);
        return log;
    }

    private async Task ReadStreamAsync(Process reaper, RunProcessWatch os, HostStreamReplay replay, HostRun run, CancellationToken cancellationToken)
    {
        var stdout = reaper.StandardOutput;
        CancellationTokenSource? drainBound = null;
        CancellationTokenSource? drain = null;

        // After the kill, each line is replayed once the next one shows it whole: the SIGKILL may land while the host's
        // writer is half-way through a line, and that torn last line is the kill's cut, not a damaged stream.
        string? held = null;
        try
        {
            while (true)
            {
                var token = drain?.Token ?? cancellationToken;
                var line = await stdout.ReadLineAsync(token).ConfigureAwait(false);
                if (line is null)
                {
                    if (held is not null)
                    {
                        replay.Read(held, lastAfterKill: true);
                    }

                    return; // end of file: the host is gone
                }

                if (drain is not null)
                {
                    if (held is not null)
                    {
                        replay.Read(held);
                    }

                    held = line;
                    continue;
                }

                if (replay.Read(line) is { K: "state", State.Final: HostState.Kill } && run.KilledAt is null)
                {
                    await KillHostAsync(os, replay.HostPid, run, cancellationToken).ConfigureAwait(false);

                    // What the host wrote before it died is still in the pipe: read it to end of file, bounded.
                    drainBound = new CancellationTokenSource(s_drainBound, _time);
                    drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, drainBound.Token);
                }
            }
        }
        catch (OperationCanceledException) when (drain is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested)
        {
            Problems.Add(new ExpectationFailure("host stream", null, $"no end of the host's stdout within {Durations.Format(s_drainBound)} of its death: something else holds it", null, null));
        }
        finally
        {
            drain?.Dispose();
            drainBound?.Dispose();
        }
    }

    /// <summary>SIGKILL of the host alone — its agent, terminals and their descendants become orphans (of the reaper) — then waits for its death.</summary>
    private async Task KillHostAsync(RunProcessWatch os, int? hostPid, HostRun run, CancellationToken cancellationToken)
    {
        if (hostPid is not { } pid || os.Sampler.Snapshot().LastOrDefault(p => p.Pid == pid && p.Role == ProcessRole.Host) is not { } host)
        {
            Problems.Add(new ExpectationFailure("timeline: kill_host", null, "the host asked to be killed, but its process was never seen below the reaper", null, null));
            return;
        }

        run.KilledAt = Now;
        os.RunEnding(run.KilledAt);
        ProcessTreeSampler.Kill([host]);
        var alive = await os.Sampler.WaitUntilGoneAsync(s_hostDeathBound, p => p.Pid == pid && p.StartTime == host.StartTime, cancellationToken).ConfigureAwait(false);
        if (alive.Count > 0)
        {
            Problems.Add(new ExpectationFailure("timeline: kill_host", null, $"the host (pid {pid}) outlived SIGKILL by {Durations.Format(s_hostDeathBound)}", null, null));
        }

        run.KillTook = Now - run.KilledAt.Value;
    }

    private async Task<KillHostRecord> SweepAfterKillAsync(TimeSpan at, CancellationToken cancellationToken)
    {
        if (ProcessTables.ForCurrentPlatform() is not { } table)
        {
            return new KillHostRecord(at, 0, 0, [], "no process table on this platform: the sweep cannot run");
        }

        var registry = new LeaseRegistry(BridgeOptions.Sweep.RuntimeDirectory);
        var cookies = registry.ReadAll().Leases.SelectMany(l => l.Cookies).ToList();
        if (cookies.Count == 0)
        {
            return new KillHostRecord(at, 0, 0, [], "the dead host left no lease to sweep by");
        }

        var report = await new OrphanSweeper(registry, table, BridgeOptions.Sweep, _time).SweepAsync(dryRun: false, cancellationToken).ConfigureAwait(false);
        return new KillHostRecord(at, report.Killed.Count, report.Survivors.Count, [.. cookies.Where(c => AgentCookie.AnyCarrier(table, c))], null);
    }

    /// <summary>The reaper ends when its stdin closes, killing everything still below it; a reaper that does not is killed with its tree.</summary>
    private async Task EndReaperAsync(Process reaper, CancellationToken cancellationToken)
    {
        try
        {
            reaper.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }

        try
        {
            await reaper.WaitForExitAsync(cancellationToken).WaitAsync(s_reaperBound, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Problems.Add(new ExpectationFailure("clean-up", null, $"the reaper did not end within {Durations.Format(s_reaperBound)} of its stdin closing: killed", Tail(), null));
            reaper.Kill(entireProcessTree: true);
        }
    }

    private async Task ReadStderrAsync(StreamReader stderr)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await stderr.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            lock (_stderr)
            {
                _stderr.Append(buffer, 0, read);
                if (_stderr.Length > StderrTailChars)
                {
                    _stderr.Remove(0, _stderr.Length - StderrTailChars);
                }
            }
        }
    }

    private string? Tail()
    {
        lock (_stderr)
        {
            return _stderr.Length == 0 ? null : "host stderr: " + _stderr.ToString().Trim();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _replay?.Dispose();
        await _template.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary folder is not worth failing a run for.
        }
    }

    /// <summary>When the runner killed the host, and how long its death took.</summary>
    private sealed class HostRun
    {
        public TimeSpan? KilledAt { get; set; }

        public TimeSpan KillTook { get; set; }
    }
}
