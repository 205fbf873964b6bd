using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Scenarios.Os;
using ContainmentLab.Sweep;

namespace ContainmentLab.Scenarios;

/// <summary>
/// A <c>kill_host</c> fixture, the runner's side. The fixture runs in a host process of its own
/// (<see cref="ScenarioHost"/>), started under a <see cref="ChildReaper"/>, and streams everything it sees
/// (<see cref="HostStream"/>); the runner replays that into its own recorder — so transcript, report and oracles see the
/// host's events, wire lines and actions at the host's times — and samples the reaper's whole tree from the OS. At
/// <c>kill_host</c> the host says so, and the runner SIGKILLs it (the host alone, as a desktop app dies), runs the
/// orphan sweep on its lease directory, and then checks that nothing of the tree outlived it (G7).
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
    private readonly HostClock _clock;
    private readonly RunRecorder _recorder;
    private readonly StringBuilder _stderr = new();
    private readonly Dictionary<int, TimeSpan> _actionTimes = [];

    public HostProcessRun(Fixture fixture, ScenarioRunOptions options)
    {
        _fixture = fixture;
        _options = options;
        _workDirectory = Directory.CreateTempSubdirectory("containmentlab-fixture-").FullName;
        _template = new ScenarioRun(fixture, options with { TranscriptPath = null, WorkDirectory = _workDirectory, Epoch = null, HostStream = null });
        _epoch = _time.GetTimestamp();
        _clock = new HostClock(_epoch);
        _recorder = new RunRecorder(_clock, options.TranscriptPath);
    }

    public BridgeOptions BridgeOptions => _template.BridgeOptions;

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
        var stderr = ReadStderrAsync(reaper.StandardError);
        var run = new HostRun();
        try
        {
            await ReadStreamAsync(reaper, os, run, token).ConfigureAwait(false);
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
        else if (run.State is null)
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
        return BuildLog(run, sweep, evidence);
    }

    private async Task ReadStreamAsync(Process reaper, RunProcessWatch os, HostRun run, CancellationToken cancellationToken)
    {
        var stdout = reaper.StandardOutput;
        CancellationTokenSource? drainBound = null;
        CancellationTokenSource? drain = null;
        try
        {
            while (true)
            {
                var token = drain?.Token ?? cancellationToken;
                var line = await stdout.ReadLineAsync(token).ConfigureAwait(false);
                if (line is null)
                {
                    return; // end of file: the host is gone
                }

                HostRecord record;
                try
                {
                    record = JsonSerializer.Deserialize<HostRecord>(line, HostStream.Options) ?? throw new JsonException("empty record");
                    Replay(record, os, run);
                }
                catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException or IndexOutOfRangeException)
                {
                    Problems.Add(new ExpectationFailure("host stream", null, $"a line the host wrote could not be read: {ex.Message}", line.Length > 300 ? line[..300] + "…" : line, null));
                    continue;
                }

                if (record is { K: "state", State.Final: HostState.Kill } && run.KilledAt is null)
                {
                    await KillHostAsync(os, run, cancellationToken).ConfigureAwait(false);

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

    private void Replay(HostRecord record, RunProcessWatch os, HostRun run)
    {
        var at = TimeSpan.FromTicks(record.T ?? 0);
        _clock.Set(_epoch, at);
        switch (record.K)
        {
            case "hello":
                run.HostPid = record.Pid;
                os.Sampler.Tag(record.Pid!.Value, ProcessRole.Host);
                break;
            case "event":
                var containmentEvent = HostStream.DecodeEvent(record);
                _recorder.OnEvent(containmentEvent);
                if (containmentEvent is AgentStarted { ProcessId: { } agentPid })
                {
                    os.Sampler.Tag(agentPid, ProcessRole.Agent);
                }

                break;
            case "in":
                _recorder.Received(record.N ?? 0, record.B ?? []);
                break;
            case "out":
                _recorder.Sent(record.B ?? []);
                break;
            case "action":
                var index = record.I ?? -1;
                _actionTimes[index] = at;
                _recorder.OnAction(_fixture.Timeline[index], record.Session, at);
                break;
            case "state":
                run.State = record.State;
                break;
            case "unencodable":
                throw new JsonException($"the host could not encode an event: {record.Type}");
            default:
                throw new JsonException($"unknown record kind '{record.K}'");
        }
    }

    /// <summary>SIGKILL of the host alone — its agent, terminals and their descendants become orphans (of the reaper) — then waits for its death.</summary>
    private async Task KillHostAsync(RunProcessWatch os, HostRun run, CancellationToken cancellationToken)
    {
        if (run.HostPid is not { } pid || os.Sampler.Snapshot().LastOrDefault(p => p.Pid == pid && p.Role == ProcessRole.Host) is not { } host)
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

    private RunLog BuildLog(HostRun run, KillHostRecord? sweep, OsEvidence evidence)
    {
        var state = run.State;
        Problems.AddRange(state?.Problems ?? []);
        var actions = (state?.Actions ?? []).Select(a => new ActionRecord(_fixture.Timeline[a.Index], a.SessionId, a.At, a.Took, a.Error)).ToList();
        var killIndex = _fixture.Timeline.ToList().FindIndex(a => a.Kind == ActionKind.KillHost);
        if (run.KilledAt is { } killedAt && _actionTimes.TryGetValue(killIndex, out var requested))
        {
            actions.Add(new ActionRecord(_fixture.Timeline[killIndex], null, requested, killedAt + run.KillTook - requested, null));
        }

        var turns = (state?.Turns ?? []).Select(t => t.ToRecord()).ToList();
        var events = _recorder.Events;
        foreach (var turn in turns.Where(t => t.EndedAt is null && !t.PendingAtBound && run.KilledAt is not null))
        {
            // The state was taken when kill_host ran; a turn whose TurnEnded the host published just before (say the
            // very event kill_host waited for) may not have had its record completed yet. Its events tell how it ended.
            if (EndedByEvent(events, turn) is { } ended)
            {
                turn.EndedAt = ended.At;
                turn.Outcome = ((TurnEnded)ended.Event).Outcome;
            }
            else
            {
                turn.EndedAt = run.KilledAt;
                turn.CutByKillHost = true;
            }
        }

        return new RunLog(
            _fixture,
            BridgeOptions,
            new Dictionary<string, string>(state?.Ids ?? new Dictionary<string, string>(), StringComparer.Ordinal),
            _recorder.Events,
            actions,
            turns,
            state?.Audit ?? [],
            _recorder.ToolActivity,
            sweep)
        {
            Os = evidence,
            StartedUtc = _recorder.StartedUtc,
        };
    }

    /// <summary>The TurnEnded of the turn: the first one in its session after its TurnStarted (a session runs one turn at a time).</summary>
    private static RecordedEvent? EndedByEvent(IReadOnlyList<RecordedEvent> events, TurnRecord turn)
    {
        var started = events.FirstOrDefault(e => e.Event is TurnStarted s && s.Id == turn.SessionId && s.Turn == turn.Number);
        return started is null ? null : events.FirstOrDefault(e => e.At >= started.At && e.Event is TurnEnded ended && ended.Id == turn.SessionId);
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
        _recorder.Dispose();
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

    /// <summary>What the stream said about the host's run.</summary>
    private sealed class HostRun
    {
        public int? HostPid { get; set; }

        public HostState? State { get; set; }

        public TimeSpan? KilledAt { get; set; }

        public TimeSpan KillTook { get; set; }
    }
}
