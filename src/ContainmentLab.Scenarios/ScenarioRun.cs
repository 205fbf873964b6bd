using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.FakeAgent;
using ContainmentLab.Scenarios.Evidence;
using ContainmentLab.Scenarios.Os;
using ContainmentLab.Sweep;

namespace ContainmentLab.Scenarios;

/// <summary>One run of one fixture: builds the bridge from the fixture, runs the timeline, collects the <see cref="RunLog"/>.</summary>
internal sealed class ScenarioRun : IAsyncDisposable
{
    private static readonly TimeSpan s_disposeBound = TimeSpan.FromSeconds(30);
    private readonly Fixture _fixture;
    private readonly ScenarioRunOptions _options;
    private readonly TimeProvider _time;
    private readonly string _workDirectory;
    private readonly RunRecorder _recorder;
    private readonly ConcurrentDictionary<string, string> _ids = new(StringComparer.Ordinal);
    private readonly List<ActionRecord> _actions = [];
    private readonly List<TurnRecord> _turns = [];
    private readonly List<Task> _turnTasks = [];
    private readonly CountingTimeProvider _bridgeTime;
    private AcpBridge? _bridge;
    private TimerSample? _timers;
    private TimeSpan? _stoppedAt;

    public ScenarioRun(Fixture fixture, ScenarioRunOptions options)
    {
        _fixture = fixture;
        _options = options;
        _time = options.TimeProvider;
        _workDirectory = options.WorkDirectory ?? Directory.CreateTempSubdirectory("containmentlab-fixture-").FullName;
        _recorder = new RunRecorder(_time, options.TranscriptPath, options.Epoch, options.HostStream);
        _bridgeTime = new CountingTimeProvider(_time);
        BridgeOptions = BuildOptions();
    }

    public BridgeOptions BridgeOptions { get; }

    /// <summary>What went wrong running the fixture itself (an event that never came, a failed start).</summary>
    public List<ExpectationFailure> Problems { get; } = [];

    public TimeSpan Duration { get; private set; }

    public async Task<RunLog> ExecuteAsync(CancellationToken cancellationToken)
    {
        // The OS's account of the agents and their descendants (a kill_host host's runner keeps its own, of the whole host).
        using var os = _options.HostStream is null ? RunProcessWatch.ForAgents(() => _bridge?.AgentProcessId, () => _recorder.Elapsed, _time) : null;
        using var bound = new CancellationTokenSource(_options.RunTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bound.Token);
        var token = linked.Token;
        try
        {
            if (await StartAsync(token).ConfigureAwait(false))
            {
                foreach (var action in _fixture.Timeline)
                {
                    if (!await RunActionAsync(action, token).ConfigureAwait(false))
                    {
                        break;
                    }
                }
            }

            await WaitForTurnsAsync(_options.TurnWait, markPending: true, token).ConfigureAwait(false);
            await SampleTimersAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Problems.Add(new ExpectationFailure("run", null, $"the run did not end within its bound of {Durations.Format(_options.RunTimeout)}", null, null));
        }
        finally
        {
            _stoppedAt = _recorder.Elapsed;
            os?.RunEnding(_stoppedAt.Value);
            await StopBridgeAsync().ConfigureAwait(false);
        }

        // Stopping the bridge completes every turn; let their records settle (bounded) before judging.
        await WaitForTurnsAsync(TimeSpan.FromSeconds(10), markPending: false, CancellationToken.None).ConfigureAwait(false);
        Duration = _recorder.Elapsed;
        var log = Snapshot() with
        {
            Os = os is null ? (_options.HostStream is null ? OsEvidence.None(RunProcessWatch.NoProcFs) : null) : await os.FinishAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false),
        };
        _recorder.Dispose();
        return log;
    }

    /// <summary>What the run has observed so far (the whole of it once it ended).</summary>
    private RunLog Snapshot()
    {
        var wire = _recorder.Wire.Snapshot();
        var (auditFile, auditError) = ReadAuditFile();
        return new RunLog(
            _fixture,
            BridgeOptions,
            new Dictionary<string, string>(_ids, StringComparer.Ordinal),
            _recorder.Events,
            [.. _actions],
            [.. _turns],
            _bridge?.Audit.Snapshot() ?? [],
            _recorder.ToolActivity,
            null)
        {
            Wire = wire,
            Accounts = ReadAccounts(wire),
            AuditFile = auditFile,
            AuditFileError = auditError,
            Timers = _timers,
            StoppedAt = _stoppedAt,
            StartedUtc = _recorder.StartedUtc,
        };
    }

    /// <summary>
    /// G4's "no timer outlives its tool", read off the bridge's clock itself: which timers are still armed once every turn
    /// has ended and the bridge has published each end (it ends a turn's agent-side tools before that). Not after a stop
    /// action: the bridge's disposal ends every timer by itself, which would hide a leak.
    /// </summary>
    private async Task SampleTimersAsync(CancellationToken cancellationToken)
    {
        if (_turns.Any(t => !t.Ended) || _actions.Any(a => a.Action.Kind == ActionKind.Stop))
        {
            return;
        }

        var turns = _turns.Where(t => t.Outcome is not null).GroupBy(t => t.SessionId).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        await _recorder.WaitForAsync(
            events => turns.All(t => events.Count(e => e.Event is TurnEnded && e.Event.SessionId == t.Key) >= t.Value),
            TimeSpan.FromSeconds(5),
            cancellationToken).ConfigureAwait(false);
        _timers = new TimerSample(_recorder.Elapsed, _bridgeTime.Armed());
    }

    /// <summary>
    /// Before kill_host's timer sample: a turn whose <c>TurnEnded</c> the bridge has published (say the very event
    /// kill_host waited for) completes its record only once its <c>PromptAsync</c> returns, just after. Those are
    /// awaited (bounded); if any turn has no <c>TurnEnded</c> yet, nothing is: it is still running, and no sample is taken.
    /// </summary>
    private async Task SettleEndedTurnsAsync(CancellationToken cancellationToken)
    {
        var events = _recorder.Events;
        var ending = new List<Task>();
        for (var i = 0; i < _turns.Count; i++)
        {
            var turn = _turns[i];
            if (turn.Ended)
            {
                continue;
            }

            var started = events.FirstOrDefault(e => e.Event is TurnStarted s && s.Id == turn.SessionId && s.Turn == turn.Number);
            if (started is null || !events.Any(e => e.At >= started.At && e.Event is TurnEnded ended && ended.Id == turn.SessionId))
            {
                return;
            }

            ending.Add(_turnTasks[i]);
        }

        try
        {
            await Task.WhenAll(ending).WaitAsync(TimeSpan.FromSeconds(5), _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Then the sample is skipped: a turn not ended.
        }
    }

    /// <summary>The audit log as the bridge left it on disk (G8 reads the file, not the bridge's memory).</summary>
    private (IReadOnlyList<AuditRecord>? Records, string? Error) ReadAuditFile()
    {
        if (BridgeOptions.AuditPath is not { } path || _bridge is null)
        {
            return (null, null);
        }

        try
        {
            return (AuditLog.ReadFile(path), null);
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return (null, ex.Message);
        }
    }

    /// <summary>Each agent process's own account, read back from its file (a killed agent's too: it is written as it goes).</summary>
    internal static Dictionary<int, AgentAccountRecord> ReadAccounts(IReadOnlyList<TapConnectionRecord> wire)
    {
        var accounts = new Dictionary<int, AgentAccountRecord>();
        foreach (var connection in wire)
        {
            if (connection.AccountPath is { } path && AgentAccountRecord.Read(path) is { } account)
            {
                accounts[connection.Index] = account;
            }
        }

        return accounts;
    }

    /// <summary>
    /// Starts the agent through the runner's tap. A fake-agent script agent also gets the path of its own account (one
    /// file per process: a restarted agent writes a new one).
    /// </summary>
    private IAgentTransport StartAgent(AgentCommand command) => _recorder.Wire.Attach(
        AccountPathFor,
        index => AgentProcess.Start(AccountPathFor(index) is { } account
            ? command with { Environment = new Dictionary<string, string>(command.Environment, StringComparer.Ordinal) { [AgentAccount.EnvironmentVariable] = account } }
            : command));

    private string? AccountPathFor(int connection) =>
        _fixture.Agent.Kind is AgentKind.InlineScript or AgentKind.ScriptFile ? Path.Combine(_workDirectory, $"agent-account-{connection}.ndjson") : null;

    private async Task<bool> StartAsync(CancellationToken cancellationToken)
    {
        _bridge = new AcpBridge(BridgeOptions);
        _bridge.Events.Subscribe(_recorder.OnEvent);
        try
        {
            await _bridge.StartAsync(cancellationToken).ConfigureAwait(false);
            foreach (var session in _fixture.Sessions)
            {
                _ids[session] = await _bridge.NewSessionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Problems.Add(new ExpectationFailure("start", null, $"the agent did not start or a session could not be created: {ex.Message}", _bridge.AgentStderrTail.Trim() is { Length: > 0 } tail ? tail : null, null));
            return false;
        }
    }

    /// <summary>Waits for the action's moment, runs it; false when the rest of the timeline cannot run.</summary>
    private async Task<bool> RunActionAsync(TimelineAction action, CancellationToken cancellationToken)
    {
        if (action.At is { } at && at - _recorder.Elapsed is { } left && left > TimeSpan.Zero)
        {
            await Task.Delay(left, _time, cancellationToken).ConfigureAwait(false);
        }
        else if (action.After is { } condition
            && !await _recorder.WaitForAsync(events => Count(events, condition) >= condition.Count, condition.Timeout, cancellationToken).ConfigureAwait(false))
        {
            var seen = Count(_recorder.Events, condition);
            Problems.Add(new ExpectationFailure(
                $"timeline: {action.Name} after {condition}",
                condition.Session,
                $"the condition did not hold within {Durations.Format(condition.Timeout)} (seen {seen} of {condition.Count}); the rest of the timeline did not run",
                _recorder.Events.LastOrDefault() is { } last ? $"last event: {last.Event.Name} at {TranscriptWriter.Seconds(last.At)}s" : "no event at all",
                condition.Mark.ToString()));
            return false;
        }

        var bridge = _bridge!;
        var started = _recorder.Elapsed;
        var sessionId = action.Session is null ? null : _ids.GetValueOrDefault(action.Session);
        _recorder.OnAction(action, sessionId, started);
        string? error = null;
        try
        {
            switch (action.Kind)
            {
                case ActionKind.Prompt:
                    StartTurn(bridge, action.Session!, sessionId!, action.Text, started);
                    break;
                case ActionKind.Interrupt:
                    bridge.Interrupt(sessionId!);
                    break;
                case ActionKind.InterruptAll:
                    bridge.InterruptAll();
                    break;
                case ActionKind.Stop:
                    await bridge.DisposeAsync().AsTask().WaitAsync(s_disposeBound, _time, cancellationToken).ConfigureAwait(false);
                    break;
                case ActionKind.Restart:
                    sessionId = await bridge.NewSessionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                    _ids[action.Session!] = sessionId;
                    break;
                case ActionKind.KillHost when _options.HostStream is { } host:
                    // This is a kill_host host process: the runner is told, and SIGKILLs it; this call never returns. The
                    // timers are sampled first, when every turn has ended (G4's leak check needs the bridge alive).
                    await SettleEndedTurnsAsync(cancellationToken).ConfigureAwait(false);
                    await SampleTimersAsync(cancellationToken).ConfigureAwait(false);
                    var snapshot = Snapshot();
                    await host.KillRequestedAsync(snapshot, Problems, _recorder.Elapsed, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    error = "kill_host needs the bridge in a host process of its own; this run has it in-process";
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            error = $"{ex.GetType().Name}: {ex.Message}";
        }

        _actions.Add(new ActionRecord(action, sessionId, started, _recorder.Elapsed - started, error));
        if (error is not null)
        {
            Problems.Add(new ExpectationFailure($"timeline: {action.Name}", action.Session, error, null, action.Mark.ToString()));
        }

        return true;
    }

    private int Count(IReadOnlyList<RecordedEvent> events, EventCondition condition)
    {
        var sessionId = condition.Session is null ? null : _ids.GetValueOrDefault(condition.Session);
        return events.Count(e => e.Event.Name == condition.Event && (condition.Session is null || (sessionId is not null && e.Event.SessionId == sessionId)));
    }

    private void StartTurn(AcpBridge bridge, string session, string sessionId, string text, TimeSpan at)
    {
        var record = new TurnRecord(session, sessionId, _turns.Count(t => t.Session == session) + 1, at);
        _turns.Add(record);
        _turnTasks.Add(RunTurnAsync(bridge, record, text));
    }

    private async Task RunTurnAsync(AcpBridge bridge, TurnRecord record, string text)
    {
        try
        {
            // No token: the user's way to stop a turn is an interrupt action; the runner's bound stops the bridge.
            record.Outcome = await bridge.PromptAsync(record.SessionId, text, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A refused prompt is an observation to judge, not a failure of the runner.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            record.Refusal = $"{ex.GetType().Name}: {ex.Message}";
        }

        record.EndedAt = _recorder.Elapsed;
    }

    private async Task WaitForTurnsAsync(TimeSpan bound, bool markPending, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_turnTasks).WaitAsync(bound, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            if (markPending)
            {
                foreach (var turn in _turns.Where(t => t.EndedAt is null))
                {
                    turn.PendingAtBound = true;
                }
            }
        }
    }

    private async Task StopBridgeAsync()
    {
        if (_bridge is null)
        {
            return;
        }

        try
        {
            await _bridge.DisposeAsync().AsTask().WaitAsync(s_disposeBound, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Problems.Add(new ExpectationFailure("stop", null, $"disposing the bridge took more than {Durations.Format(s_disposeBound)}", null, null));
        }
    }

    private BridgeOptions BuildOptions()
    {
        var host = _fixture.Host;
        var policies = new PolicySet();
        var watchdog = new WatchdogOptions();
        var restart = new RestartOptions();
        var sweep = new OrphanSweepOptions();
        var defaults = new BridgeOptions { TransportFactory = static () => throw new InvalidOperationException() };
        return new BridgeOptions
        {
            Command = AgentCommandFor(_fixture.Agent),
            StartAgent = StartAgent,
            AuditPath = Path.Combine(_workDirectory, "audit.jsonl"),

            // The bridge's clock, counting its timers (G4); the same time as the runner's.
            TimeProvider = _bridgeTime,
            AckTimeout = host.AckTimeout ?? defaults.AckTimeout,
            WriteStallTimeout = host.WriteStallTimeout ?? defaults.WriteStallTimeout,
            RequestTimeout = host.RequestTimeout ?? defaults.RequestTimeout,
            ShutdownGrace = host.ShutdownGrace ?? defaults.ShutdownGrace,
            SandboxRoot = host.Sandbox ?? Directory.CreateDirectory(Path.Combine(_workDirectory, "sandbox")).FullName,
            Policies = new PolicySet
            {
                ReadOnly = host.Policies.ReadOnly ?? policies.ReadOnly,
                SideEffect = host.Policies.SideEffect ?? policies.SideEffect,
                Destructive = host.Policies.Destructive ?? policies.Destructive,
                PerTool = host.Policies.PerTool,
            },
            ConfirmAsync = ConfirmFor(host.Policies),
            Watchdog = new WatchdogOptions
            {
                Enabled = host.Watchdog.Enabled ?? watchdog.Enabled,
                ActivityWindow = host.Watchdog.ActivityWindow ?? watchdog.ActivityWindow,
                OverrideToolTimeout = host.Watchdog.ToolTimeout,
                MaxToolDuration = host.Watchdog.MaxToolDuration,
            },
            Restart = new RestartOptions
            {
                Budget = host.RestartBudget ?? restart.Budget,
                InitialBackoff = host.RestartBackoff ?? restart.InitialBackoff,
            },
            Sweep = new OrphanSweepOptions
            {
                RuntimeDirectory = host.Sweep.RuntimeDirectory ?? Directory.CreateDirectory(Path.Combine(_workDirectory, "runtime")).FullName,
                Enabled = host.Sweep.Enabled ?? sweep.Enabled,
                SweepAtStart = host.Sweep.SweepAtStart ?? sweep.SweepAtStart,
                Grace = host.Sweep.Grace ?? sweep.Grace,
            },
            WireTap = _recorder,
        };
    }

    /// <summary>The agent's command: the fake agent with the script (an inline one is written to the run's folder) or replay, or the fixture's own command.</summary>
    internal AgentCommand AgentCommandFor(AgentSpec agent)
    {
        AgentCommand command;
        switch (agent.Kind)
        {
            case AgentKind.InlineScript:
                var path = Path.Combine(_workDirectory, "agent-script.yaml");
                File.WriteAllText(path, agent.ScriptText);
                command = new AgentCommand(_options.FakeAgentPath, ["--script", path]);
                break;
            case AgentKind.ScriptFile:
                command = new AgentCommand(_options.FakeAgentPath, ["--script", agent.Path!]);
                break;
            case AgentKind.Replay:
                command = new AgentCommand(_options.FakeAgentPath, ["--replay", agent.Path!]);
                break;
            default:
                command = new AgentCommand(agent.Command[0], [.. agent.Command.Skip(1)]);
                break;
        }

        return command with { Environment = agent.Environment };
    }

    private Func<ConfirmRequest, CancellationToken, ValueTask<bool>>? ConfirmFor(PolicySpec policies)
    {
        var time = _time;
        var delay = policies.ConfirmAfter;
        return policies.Confirm switch
        {
            ConfirmAnswer.None => null,
            ConfirmAnswer.Never => async (_, cancellationToken) =>
            {
                // The dialog nobody answers: only the session's interrupt (its token) ends it.
                await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken).ConfigureAwait(false);
                return false;
            },
            var answer => async (_, cancellationToken) =>
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                }

                return answer == ConfirmAnswer.Allow;
            },
        };
    }

    public ValueTask DisposeAsync()
    {
        _recorder.Dispose();
        if (_options.WorkDirectory is not null)
        {
            return ValueTask.CompletedTask; // not ours to delete: a kill_host runner sweeps its lease directory after this host died
        }

        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary folder is not worth failing a run for.
        }

        return ValueTask.CompletedTask;
    }
}
