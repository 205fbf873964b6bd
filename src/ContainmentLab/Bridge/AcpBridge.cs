using System.Collections.Concurrent;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContainmentLab.Bridge;

/// <summary>
/// The host side of a desktop agent: runs the agent, speaks ACP to it, dispatches the tool calls it asks for behind
/// per-session interrupt gates, and stops it: <see cref="Interrupt"/>, <see cref="InterruptAll"/>, escalation after
/// AckTimeout, and <see cref="DisposeAsync"/>. Several sessions run concurrently over one agent.
/// </summary>
public sealed partial class AcpBridge : IAsyncDisposable
{
    private readonly BridgeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly HttpClient _httpClient;
    private readonly bool _ownsHttpClient;
    private readonly Watchdog _watchdog;
    private readonly HostToolRegistry _tools;
    private readonly Lock _agentLock = new();
    private Agent? _agent;
    private readonly ConcurrentDictionary<string, string> _retired = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<Session> _retiredSessions = [];

    /// <summary>Every session handle handed out in the bridge's lifetime (guarded by itself): handles are never reused.</summary>
    private readonly HashSet<string> _handles = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _restartLock = new(1, 1);
    private int _restarts;
    private long _interruptAllEpoch;
    private int _disposed;

    public AcpBridge(BridgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Command is null && options.TransportFactory is null)
        {
            throw new ArgumentException("BridgeOptions needs a Command or a TransportFactory", nameof(options));
        }

        _options = options;
        _time = options.TimeProvider;
        _logger = options.LoggerFactory?.CreateLogger<AcpBridge>() ?? (ILogger)NullLogger.Instance;
        Events = new EventHub(_logger);
        Audit = new AuditLog(_time, options.AuditPath, Events);
        Sandbox = new Sandbox(options.SandboxRoot ?? Directory.CreateTempSubdirectory("containmentlab-sandbox-").FullName);
        _ownsHttpClient = options.HttpClient is null;
        _httpClient = options.HttpClient ?? new HttpClient();
        _tools = options.Tools?.Invoke(Sandbox, Desktop, _httpClient)
            ?? HostToolRegistry.CreateDefault(Sandbox, Desktop, _httpClient, options.AllowedHttpHosts);
        _tools.MarkHostProcesses(HostProcessCookie);
        _watchdog = new Watchdog(options.Watchdog, _time, Events, (sessionId, reason) =>
        {
            if (_sessions.TryGetValue(sessionId, out var session))
            {
                InterruptSession(session, reason);
            }
        });
    }

    /// <summary>Every containment event, as a typed record.</summary>
    public EventHub Events { get; }

    public AuditLog Audit { get; }

    public VirtualDesktop Desktop { get; } = new();

    public Sandbox Sandbox { get; }

    /// <summary>The last lines the agent wrote to stderr (bounded; free text, never parsed for control).</summary>
    public string AgentStderrTail => _agent?.Transport.StderrTail ?? string.Empty;

    /// <summary>The running agent's pid, when it is a child process.</summary>
    public int? AgentProcessId => _agent?.Transport.ProcessId;

    public IReadOnlyCollection<string> SessionIds => [.. _sessions.Keys];

    /// <summary>Tool calls the watchdog is watching right now; 0 when nothing runs (no timer outlives its tool).</summary>
    public int ActiveWatches => _watchdog.ActiveCount;

    /// <summary>No line waits for the agent's stdin and none is being written (true when no agent runs); see <see cref="Connection.IsWriterIdle"/>.</summary>
    internal bool IsAgentWriterIdle => _agent is not { } agent || agent.Connection.IsClosed || agent.Connection.IsWriterIdle;

    /// <summary>Starts the agent and initializes it. Errors (start failure, a rejected initialize, an exit during start-up) reach the caller.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_agent is { IsAlive: true })
        {
            return;
        }

        string? cookie = null;
        var transport = _options.TransportFactory is { } factory
            ? factory()
            : _options.StartAgent is { } start
                ? start(PrepareAgentCommand(_options.Command!, out cookie))
                : AgentProcess.Start(PrepareAgentCommand(_options.Command!, out cookie), line => LogAgentStderr(_logger, line));
        OnAgentProcessStarted(transport, cookie);
        var agent = new Agent(transport) { Cookie = cookie };
        agent.Dispatcher = CreateDispatcher(agent);
        var connection = new Connection(transport, _options.Framing, new ConnectionHandler(this, agent), _options.WireTap, _logger, _time, _options.WriteStallTimeout);
        agent.Connection = connection;
        lock (_agentLock)
        {
            _agent = agent;
        }

        connection.Start();
        agent.Watcher = WatchAgentAsync(agent);

        var request = new InitializeRequest(
            AcpMethods.ProtocolVersion,
            new ClientCapabilities(new FileSystemCapability(true, true), Terminal: true),
            new Implementation("containmentlab", typeof(AcpBridge).Assembly.GetName().Version?.ToString()));
        IncomingMessage response;
        try
        {
            response = await CallAsync(agent, AcpMethods.Initialize, request, AcpJsonContext.Default.InitializeRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await StopAgentAsync(agent, "initialize timed out").ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException)
        {
            // An agent that was never initialized must not be taken for a running one by the next call.
            await StopAgentAsync(agent, "initialize was cancelled").ConfigureAwait(false);
            throw;
        }

        if (response.Error is { } error)
        {
            await StopAgentAsync(agent, $"initialize rejected: {error.Message}").ConfigureAwait(false);
            throw new AgentExitedException($"the agent rejected initialize ({error.Code}): {error.Message}");
        }

        var initialized = response.ResultAs(AcpJsonContext.Default.InitializeResponse);
        Events.Publish(new AgentStarted(_time.GetUtcNow(), transport.ProcessId, $"{transport.Description}, {initialized.AgentInfo?.Name ?? "unnamed agent"}"));
    }

    /// <summary>
    /// Creates a session and returns its handle: the agent's session id, or, when a restarted agent hands out an id an
    /// earlier agent used, that id with <c>#2</c>, <c>#3</c>, … appended (a handle is never reused in the bridge's
    /// lifetime). A Stop-all pressed while it was being created — its agent's start-up included — leaves it created
    /// interrupted.
    /// </summary>
    public async Task<string> NewSessionAsync(string? cwd = null, CancellationToken cancellationToken = default)
    {
        // Read before the agent is (re)started: an InterruptAll during the start-up is seen (hole 6).
        var epoch = Interlocked.Read(ref _interruptAllEpoch);
        var agent = await EnsureAgentAsync(cancellationToken).ConfigureAwait(false);
        var response = await CallAsync(agent, AcpMethods.SessionNew, new NewSessionRequest(cwd ?? Sandbox.Root, []), AcpJsonContext.Default.NewSessionRequest, cancellationToken).ConfigureAwait(false);
        if (response.Error is { } error)
        {
            throw new SessionStateException($"the agent rejected session/new ({error.Code}): {error.Message}");
        }

        var wireId = response.ResultAs(AcpJsonContext.Default.NewSessionResponse).SessionId;
        if (agent.Sessions.ContainsKey(wireId))
        {
            Events.Publish(new ProtocolViolation(_time.GetUtcNow(), wireId, response.LineNumber, $"session/new answered with an id already in use: '{wireId}'"));
            throw new SessionStateException($"the agent answered session/new with a session id already in use: '{wireId}'");
        }

        var session = new Session(AllocateHandle(wireId), wireId, agent);
        if (!agent.Sessions.TryAdd(wireId, session))
        {
            session.Dispose();
            Events.Publish(new ProtocolViolation(_time.GetUtcNow(), wireId, response.LineNumber, $"session/new answered with an id already in use: '{wireId}'"));
            throw new SessionStateException($"the agent answered session/new with a session id already in use: '{wireId}'");
        }

        _sessions[session.Id] = session;
        if (agent.IsRetiring)
        {
            // The agent died while the answer was on its way, and its watcher may have retired its sessions without this one.
            RetireSession(session, agent.RetiredWhy ?? "the agent exited", agent.Exit ?? new AgentExit(null, null, agent.Transport.StderrTail));
            throw new AgentExitedException($"the agent exited as session '{session.Id}' was created: {agent.RetiredWhy}", agent.Exit?.ExitCode, agent.Exit?.Signal, agent.Exit?.StderrTail);
        }

        // Interrupt during session set-up is not lost (reference/fazm-bridge.md: it was ignored there).
        var createdInterrupted = Interlocked.Read(ref _interruptAllEpoch) != epoch && InterruptSession(session, "interrupt_all during session/new");
        Events.Publish(new SessionCreated(_time.GetUtcNow(), session.Id, createdInterrupted));
        return session.Id;
    }

    /// <summary>
    /// Runs one prompt turn and returns how it ended: the agent's stop reason, or interrupted and acknowledged,
    /// escalated, failed, or the agent gone. A second prompt on a busy session is refused; the first keeps running.
    /// The caller's cancellation interrupts the session and throws.
    /// </summary>
    public async Task<TurnOutcome> PromptAsync(string sessionId, string prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(prompt);
        if (!_sessions.TryGetValue(sessionId, out var session))
        {
            throw new SessionStateException(_retired.TryGetValue(sessionId, out var why)
                ? $"session '{sessionId}' ended with its agent ({why}); create a new session: it starts a fresh agent"
                : $"unknown session '{sessionId}'");
        }

        var agent = session.Agent;
        if (!agent.IsAlive)
        {
            throw new AgentExitedException($"the agent is not running: {agent.ExitReason}", agent.Exit?.ExitCode, agent.Exit?.Signal, agent.Exit?.StderrTail);
        }

        Turn turn;
        Task<IncomingMessage> response;
        lock (session.Lock)
        {
            if (session.Interrupted)
            {
                throw new SessionStateException(
                    $"session '{sessionId}' was interrupted and is never reused (its stragglers would be taken for the new turn's); create a new session");
            }

            if (session.Turn is { } running)
            {
                throw new SessionStateException($"session '{sessionId}' is busy: turn {running.Number} is still running; this prompt was refused and that turn goes on");
            }

            turn = new Turn(session, ++session.TurnCount, _time.GetTimestamp());
            session.Turn = turn;
            session.Dispatch.BeginTurn();

            // Enqueued under the session lock: a cancel for this turn can only be queued after its prompt.
            // Completed inline: only ObserveTurnAsync awaits it, and it just ends the turn, whose own completion is
            // asynchronous, so no caller's code ever runs on the reader loop.
            (turn.PromptId, response) = agent.Connection.BeginRequest(
                AcpMethods.SessionPrompt, new PromptRequest(session.WireId, [ContentBlock.FromText(prompt)]), AcpJsonContext.Default.PromptRequest, completeInline: true);
        }

        Events.Publish(new TurnStarted(_time.GetUtcNow(), sessionId, turn.Number));
        _ = ObserveTurnAsync(turn, response);

        // The caller's cancellation is a Stop for this session; the turn still ends bounded, in the background.
        using (cancellationToken.Register(() => Interrupt(sessionId)))
        {
            try
            {
                return await turn.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The wait's own cancellation callback can resume us (and dispose the registration) before the Stop
                // callback ran: press Stop here too. A second Interrupt of the session is a no-op.
                Interrupt(sessionId);
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        foreach (var session in _sessions.Values)
        {
            session.Dispatch.Gate.Close(Audit, session.Id, "bridge stopped");
            session.Dispatch.CancelInFlight();
        }

        if (_agent is { } agent)
        {
            await StopAgentAsync(agent, "the bridge was stopped").ConfigureAwait(false);

            // The watcher completes every turn and retires the sessions; let it finish before they are disposed.
            await WithinStopTimeoutAsync(agent.Watcher, "the agent's clean-up").ConfigureAwait(false);
        }

        await WithinStopTimeoutAsync(_tools.DisposeAsync().AsTask(), "disposing the host tools").ConfigureAwait(false);

        // Every tool is over: so is every watch, whichever path its tool took (no timer outlives the bridge).
        _watchdog.EndAll();
        foreach (var session in _sessions.Values.Concat(_retiredSessions).Distinct())
        {
            session.Dispose();
        }

        ReleaseLease();
        _restartLock.Dispose();
        if (_ownsHttpClient)
        {
            _httpClient.Dispose();
        }

        Audit.Dispose();
    }

    /// <summary>One step of DisposeAsync, bounded by <see cref="BridgeOptions.StopTimeout"/>: past it the step is logged and the teardown goes on.</summary>
    private async Task WithinStopTimeoutAsync(Task step, string what)
    {
        try
        {
            await step.WaitAsync(_options.StopTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogStopStepTimedOut(_logger, what, _options.StopTimeout.TotalSeconds);
        }
    }

    /// <summary>A handle for the agent's session id: the id itself the first time, then <c>id#2</c>, <c>id#3</c>, ….</summary>
    private string AllocateHandle(string wireId)
    {
        lock (_handles)
        {
            if (_handles.Add(wireId))
            {
                return wireId;
            }

            for (var n = 2; ; n++)
            {
                var handle = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{wireId}#{n}");
                if (_handles.Add(handle))
                {
                    return handle;
                }
            }
        }
    }

    /// <summary>One agent's dispatcher: it resolves the wire's session ids to that agent's live sessions only.</summary>
    private Dispatcher CreateDispatcher(Agent agent) => new(
        new DispatcherOptions { Policies = _options.Policies, ConfirmAsync = _options.ConfirmAsync, ConfirmTimeout = _options.ConfirmTimeout, Watch = _watchdog },
        _tools,
        Audit,
        Events,
        _time,
        wireId => agent.Sessions.TryGetValue(wireId, out var s) && _sessions.ContainsKey(s.Id) ? s.Dispatch : null);

    /// <summary>A bounded request: answered, or the agent gone, or a timeout; the caller's token always wins.</summary>
    private async Task<IncomingMessage> CallAsync<T>(Agent agent, string method, T parameters, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var (_, response) = agent.Connection.BeginRequest(method, parameters, typeInfo);
        try
        {
            return await response.WaitAsync(_options.RequestTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the agent did not answer '{method}' within {_options.RequestTimeout.TotalSeconds:0.###} s");
        }
    }

    private async Task ObserveTurnAsync(Turn turn, Task<IncomingMessage> response)
    {
        IncomingMessage answer;
        try
        {
            answer = await response.ConfigureAwait(false);
        }
        catch (AgentExitedException ex)
        {
            EndTurn(turn, TurnEnd.AgentExited, null, ex.Message, exit: new AgentExit(ex.ExitCode, ex.Signal, ex.StderrTail));
            return;
        }

        if (answer.Error is { } error)
        {
            EndTurn(turn, TurnEnd.Failed, null, $"the agent answered the prompt with error {error.Code}: {error.Message}");
            return;
        }

        string stopReason;
        try
        {
            stopReason = answer.ResultAs(AcpJsonContext.Default.PromptResponse).StopReason;
        }
        catch (System.Text.Json.JsonException ex)
        {
            Events.Publish(new ProtocolViolation(_time.GetUtcNow(), turn.Session.Id, answer.LineNumber, $"invalid session/prompt result: {ex.Message}"));
            EndTurn(turn, TurnEnd.Failed, null, "invalid session/prompt result: " + ex.Message);
            return;
        }

        EndTurn(turn, TurnEnd.Completed, stopReason, null);
    }

    /// <summary>
    /// Ends the turn once. For the agent's answer (<paramref name="end"/> Completed or Failed), whether it is the ack of
    /// an interrupt is decided atomically with the completion: an interrupt either marked the turn before (then any
    /// answer is the ack; anything but <c>cancelled</c> is a deviation) or finds it already ended.
    /// </summary>
    private void EndTurn(Turn turn, TurnEnd end, string? stopReason, string? reason, AgentExit? exit = null, bool escalation = false)
    {
        TimeSpan? ackLatency = null;
        var deviation = false;
        var completed = turn.TryComplete(interruptedAt =>
        {
            var now = _time.GetTimestamp();
            var answered = end is TurnEnd.Completed or TurnEnd.Failed;
            var final = answered && interruptedAt is not null ? TurnEnd.Cancelled : end;
            if (final == TurnEnd.Cancelled)
            {
                ackLatency = _time.GetElapsedTime(interruptedAt!.Value, now);
                deviation = end == TurnEnd.Failed || stopReason != StopReasons.Cancelled;
            }

            return new TurnOutcome(turn.Session.Id, final, stopReason, interruptedAt is not null, _time.GetElapsedTime(turn.StartTimestamp, now), ackLatency, deviation, reason) { Exit = exit };
        }, escalation);
        if (completed is not { } outcome)
        {
            return;
        }

        lock (turn.Session.Lock)
        {
            if (ReferenceEquals(turn.Session.Turn, turn))
            {
                turn.Session.Turn = null;
                turn.Session.Dispatch.EndTurn();
            }

            // The turn is over: so are its agent-side tools, whatever the agent reported (their timers go too).
            foreach (var watch in turn.Session.AgentTools.Values)
            {
                watch.Dispose();
            }

            turn.Session.AgentTools.Clear();
        }

        if (ackLatency is { } latency)
        {
            Events.Publish(new AckReceived(_time.GetUtcNow(), turn.Session.Id, stopReason ?? "error", latency, deviation));
        }

        Events.Publish(new TurnEnded(_time.GetUtcNow(), turn.Session.Id, outcome));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping the bridge: {What} did not finish within StopTimeout {Seconds} s; the teardown goes on without it")]
    private static partial void LogStopStepTimedOut(ILogger logger, string what, double seconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "agent stderr: {Line}")]
    private static partial void LogAgentStderr(ILogger logger, string line);
}
