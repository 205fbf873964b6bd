using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using ContainmentLab.Protocol;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// A real ACP agent whose turns are scripted: it answers <c>initialize</c>, <c>session/new</c>, <c>session/prompt</c>
/// and <c>session/cancel</c>, and runs each prompt's steps (messages, tool calls, storms, permission requests, sleeps)
/// in its own task, several sessions at once. Every delay is on the injected <see cref="TimeProvider"/>, so tests run
/// it in-process on fake time; <see cref="FakeAgentHost"/> runs it on stdio as a child process.
/// </summary>
public sealed partial class FakeAgentEngine
{
    public const string AgentName = "containmentlab-fake-agent";

    /// <summary><c>agentInfo.version</c> when the script has no <c>name</c>.</summary>
    public static string UnnamedScriptVersion { get; } = typeof(FakeAgentEngine).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    private const string ToolStatusFailed = "failed";

    /// <summary>Queued after the last line by <c>close_stdout</c>: the write loop closes the output when it gets here.</summary>
    private static readonly byte[] s_closeOutput = [];

    private readonly FakeAgentScript _script;
    private readonly PausableReadStream _input;
    private readonly Stream _output;
    private readonly TimeProvider _timeProvider;
    private readonly TextWriter _log;
    private readonly AgentHooks _hooks;

    // One writer: every line goes through this channel to the single write loop, so lines never interleave and a
    // sender (the cancel path in particular) never waits on the pipe. An idle write loop resumes on the sender's thread
    // (synchronous continuations) up to its first pending write, instead of being queued to the thread pool: the ack of
    // a cancel leaves with one hand-off less. The sender still never waits on the pipe: a write that cannot complete at
    // once is pending, and the sender returns.
    private readonly Channel<Outgoing> _outgoing = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly ConcurrentDictionary<string, AgentSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, PendingRequest> _pending = new();
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly CancellationTokenSource _stopReading = new();

    // A scripted death (in-process meaning): stops the read loop and the write loop at once.
    private readonly CancellationTokenSource _abort = new();
    private long _lastRequestId = -1;
    private long _linesWritten;
    private LineReader? _reader;
    private int _sessionCounter;
    private int _started;

    /// <param name="hooks">How to die and to start processes; null means <see cref="AgentHooks.InProcess"/>.</param>
    public FakeAgentEngine(FakeAgentScript script, Stream input, Stream output, TimeProvider timeProvider, TextWriter? log = null, AgentHooks? hooks = null)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _script = script;
        _input = new PausableReadStream(input);
        _output = output;
        _timeProvider = timeProvider;
        _log = log is null ? TextWriter.Null : TextWriter.Synchronized(log);
        _hooks = hooks ?? AgentHooks.InProcess;
    }

    /// <summary>The scripted death the engine went through (<c>crash</c>, <c>exit_during_startup</c>), or null.</summary>
    public ExitRequest? ExitRequested { get; private set; }

    /// <summary>True while the engine reads no input (<c>stop_reading</c>, <c>close_stdout</c>).</summary>
    public bool IsInputPaused => _input.IsPaused;

    /// <summary>The ids of the sessions created so far, in no particular order.</summary>
    public IReadOnlyCollection<string> SessionIds => _sessions.Keys.ToArray();

    /// <summary>A snapshot of one session's tool-request counters.</summary>
    /// <exception cref="ArgumentException">No such session.</exception>
    public SessionStats GetStats(string sessionId)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        return _sessions.TryGetValue(sessionId, out var session)
            ? session.Stats
            : throw new ArgumentException($"no session '{sessionId}'", nameof(sessionId));
    }

    /// <summary>
    /// Serves the input until it ends or <paramref name="cancellationToken"/> is cancelled, then stops every turn and
    /// returns (it does not throw on cancellation). After the input ends, lines already queued are still written.
    /// Runs once per engine.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync runs once per engine.");
        }

        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopReading.Token, _abort.Token);
        using var stopWriting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abort.Token);
        var writer = WriteLoopAsync(stopWriting.Token);
        var endReason = "input ended";
        if (_script.ExitDuringStartup is { After: { } after } startupExit)
        {
            Track(DieAfterAsync(after, startupExit.Exit));
        }

        try
        {
            await ReadLoopAsync(stopReading.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
        {
            // Cancelled by the caller or because the output broke: stop below.
            endReason = cancellationToken.IsCancellationRequested ? "cancelled" : "output failed";
        }
        catch (IOException ex)
        {
            Log($"input failed: {ex.Message}");
            endReason = "input failed: " + ex.Message;
        }
        finally
        {
            await _shutdown.CancelAsync().ConfigureAwait(false);
            foreach (var pending in _pending.Values)
            {
                pending.Completion.TrySetCanceled(_shutdown.Token);
            }

            // Turns and ack timers catch everything and observe _shutdown, so this wait is bounded.
            await Task.WhenAll(_background.Keys).ConfigureAwait(false);
            _outgoing.Writer.TryComplete();
            await writer.ConfigureAwait(false);

            // After the writer: the count covers every line the agent wrote. (A scripted death wrote its own entry.)
            _hooks.Account?.Exit(endReason, crash: false, Interlocked.Read(ref _linesWritten), _reader?.LineNumber ?? 0);
            if (_abort.IsCancellationRequested)
            {
                // The in-process meaning of dying: the peer sees our output end, as it would see a dead process's.
                await CloseOutputStreamAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Dies as the script says: the hook (the child process really exits and never comes back here), else the in-process
    /// meaning — RunAsync ends at once, lines not yet written are lost, the output is closed.
    /// </summary>
    private void Die(ExitRequest exit, string why)
    {
        Log($"{why}: dying with {exit}");
        ExitRequested = exit;
        _hooks.Account?.Exit($"{why}: {exit}", crash: true, Interlocked.Read(ref _linesWritten), _reader?.LineNumber ?? 0);
        _hooks.Exit?.Invoke(exit);
        _outgoing.Writer.TryComplete();
        _abort.Cancel();
    }

    private async Task DieAfterAsync(TimeSpan after, ExitRequest exit)
    {
        try
        {
            await Task.Delay(after, _timeProvider, _shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Die(exit, "exit_during_startup");
    }

    private async Task CloseOutputStreamAsync()
    {
        try
        {
            await _output.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log($"closing the output failed: {ex.Message}");
        }
    }

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        var reader = _reader = new LineReader(_input);
        var parser = new MessageParser();
        while (true)
        {
            var read = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (read.Status == LineReadStatus.EndOfStream)
            {
                Log("input ended");
                return;
            }

            if (read.Status == LineReadStatus.Oversize)
            {
                Log($"line {read.LineNumber}: skipped an oversize line of {read.Length} bytes");
                continue;
            }

            var outcome = parser.Parse(read.Line, read.LineNumber);
            if (outcome.Message is not { } message)
            {
                Log($"line {read.LineNumber}: skipped a malformed line: {outcome.Error}");
                if (outcome.WasRequest && outcome.RecoveredId is { } id)
                {
                    // A request we cannot read still gets an answer: the peer must not wait for ever.
                    Enqueue(MessageWriter.Error(id, outcome.ErrorCode, outcome.Error ?? "malformed request"));
                }

                continue;
            }

            if (message.Kind != MessageKind.Response)
            {
                // Before it is handled: what the agent sends because of a cancel already counts as sent after it.
                _hooks.Account?.Received(message);
            }

            try
            {
                Dispatch(message);
            }
#pragma warning disable CA1031 // One bad message must not end the agent: log it and go on reading.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log($"line {read.LineNumber}: {message.Method ?? "response"} failed: {ex}");
                if (message.Kind == MessageKind.Request && message.Id is { } id)
                {
                    Enqueue(MessageWriter.Error(id, JsonRpcErrorCodes.InternalError, ex.Message));
                }
            }
        }
    }

    private void Dispatch(IncomingMessage message)
    {
        switch (message.Kind)
        {
            case MessageKind.Request:
                HandleRequest(message, message.Id!.Value);
                break;
            case MessageKind.Notification:
                HandleNotification(message);
                break;
            case MessageKind.Response:
                HandleResponse(message);
                break;
        }
    }

    private void HandleRequest(IncomingMessage request, RpcId id)
    {
        switch (request.Method)
        {
            case AcpMethods.Initialize when _script.ExitDuringStartup is { } startupExit:
                if (startupExit.After is null)
                {
                    Die(startupExit.Exit, "exit_during_startup");
                }
                else
                {
                    Log("initialize held: exit_during_startup will end the agent first");
                }

                break;
            case AcpMethods.Initialize when _script.InitializeError is { } error:
                Log($"initialize fails as scripted: {error.Code} {error.Message}");
                Enqueue(MessageWriter.Error(id, error.Code, error.Message));
                break;
            case AcpMethods.SessionNew when _script.SessionNewError is { } error:
                Log($"session/new fails as scripted: {error.Code} {error.Message}");
                Enqueue(MessageWriter.Error(id, error.Code, error.Message));
                break;
            case AcpMethods.Initialize:
                // Params are not checked: a fake agent should let any client in, whatever capabilities it sends.
                var response = new InitializeResponse(
                    AcpMethods.ProtocolVersion,
                    new AgentCapabilities(),
                    // ACP requires agentInfo.version: the script's name, else the fake agent's own version.
                    new Implementation(AgentName, _script.Name ?? UnnamedScriptVersion),
                    []);
                Enqueue(MessageWriter.Result(id, response, AcpJsonContext.Default.InitializeResponse));
                break;
            case AcpMethods.SessionNew:
                HandleNewSession(request, id);
                break;
            case AcpMethods.SessionPrompt:
                HandlePrompt(request, id);
                break;
            default:
                Log($"line {request.LineNumber}: unknown method '{request.Method}'");
                Enqueue(MessageWriter.Error(id, JsonRpcErrorCodes.MethodNotFound, $"method '{request.Method}' not found"));
                break;
        }
    }

    private void HandleNotification(IncomingMessage notification)
    {
        switch (notification.Method)
        {
            case AcpMethods.SessionCancel:
                HandleCancel(notification);
                break;
            case AcpMethods.CancelRequest:
                // The client withdraws one of its requests; ours are all answered at once, so there is nothing to do.
                break;
            default:
                Log($"line {notification.LineNumber}: ignored notification '{notification.Method}'");
                break;
        }
    }

    private void HandleResponse(IncomingMessage response)
    {
        if (response.Id is not { IsString: false } id || !_pending.TryRemove(id.Number, out var pending))
        {
            Log($"line {response.LineNumber}: response to unknown request id {response.Id?.ToString() ?? "null"}");
            if (response.Id is { } unknown)
            {
                _hooks.Account?.Answered(response, unknown, known: false, null);
            }

            return;
        }

        _hooks.Account?.Answered(response, id, known: true, pending.SessionId);

        // Count before completing: the storm frees a slot when the completion runs, and the stats must already
        // show this request answered, or "outstanding" would briefly read one too high.
        if (pending.ToolSession is { } session)
        {
            session.OnToolResponse(response.Error is null);
        }

        pending.Completion.TrySetResult(response);
    }

    private void HandleNewSession(IncomingMessage request, RpcId id)
    {
        if (!TryParams(request, id, AcpJsonContext.Default.NewSessionRequest, out var parameters))
        {
            return;
        }

        if (!Path.IsPathFullyQualified(parameters.Cwd))
        {
            Enqueue(MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"cwd must be an absolute path; got '{parameters.Cwd}'"));
            return;
        }

        var sessionId = "sess-" + Interlocked.Increment(ref _sessionCounter).ToString(CultureInfo.InvariantCulture);
        _sessions[sessionId] = new AgentSession(sessionId, parameters.Cwd);
        Log($"{sessionId}: new session in {parameters.Cwd}");
        Enqueue(MessageWriter.Result(id, new NewSessionResponse(sessionId), AcpJsonContext.Default.NewSessionResponse));
    }

    private void HandlePrompt(IncomingMessage request, RpcId id)
    {
        if (!TryParams(request, id, AcpJsonContext.Default.PromptRequest, out var parameters))
        {
            return;
        }

        if (!_sessions.TryGetValue(parameters.SessionId, out var session))
        {
            Enqueue(MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"unknown session '{parameters.SessionId}'"));
            return;
        }

        if (!session.TryStartTurn(() => new Turn(session, id, _shutdown.Token), out var turn, out var promptIndex))
        {
            Log($"{session.Id}: refused a prompt while turn {turn.PromptId} is running");
            Enqueue(MessageWriter.Error(id, JsonRpcErrorCodes.InvalidRequest, $"session '{session.Id}' already has a running turn"));
            return;
        }

        Log($"{session.Id}: prompt {promptIndex} starts");
        var prompt = _script.PromptFor(session.Id, promptIndex);
        Track(Task.Run(() => RunTurnAsync(turn, prompt), CancellationToken.None));
    }

    private void HandleCancel(IncomingMessage notification)
    {
        CancelNotification parameters;
        try
        {
            parameters = notification.ParamsAs(AcpJsonContext.Default.CancelNotification);
        }
        catch (JsonException ex)
        {
            Log($"line {notification.LineNumber}: bad session/cancel: {ex.Message}");
            return;
        }

        if (!_sessions.TryGetValue(parameters.SessionId, out var session) || session.CurrentTurn is not { } turn)
        {
            Log($"{parameters.SessionId}: cancel with no running turn");
            return;
        }

        if (!turn.MarkCancelReceived())
        {
            Log($"{session.Id}: repeated cancel ignored");
            return;
        }

        if (turn.TryDeferCancel())
        {
            Log($"{session.Id}: cancel received while stalled; held back until the stall ends");
            return;
        }

        ApplyCancel(turn);
    }

    private void ApplyCancel(Turn turn)
    {
        var session = turn.Session;
        var behaviour = _script.OnCancel;
        Log($"{session.Id}: cancel received ({behaviour.Mode})");
        switch (behaviour.Mode)
        {
            case CancelMode.Honour:
                StopAndFailTools(turn);
                AnswerPrompt(turn, StopReasons.Cancelled);
                break;
            case CancelMode.Ignore:
                break;
            case CancelMode.AckAndContinue:
                // The answer ends the turn for the client; the steps go on regardless (hostile input for the host).
                AnswerPrompt(turn, StopReasons.Cancelled);
                break;
            case CancelMode.Hang:
                // Running agent-side tools are left in_progress: a hung agent reports nothing.
                _ = turn.StopWork();
                break;
            case CancelMode.AckAfter:
                _ = turn.StopWork();

                // Called here, not in Task.Run: the delay's timer must exist before the next line is read, so that a
                // test advancing fake time after any later response knows the timer is already armed.
                Track(AckAfterAsync(turn, behaviour));
                break;
        }
    }

    private async Task AckAfterAsync(Turn turn, CancelBehaviour behaviour)
    {
        try
        {
            await Task.Delay(behaviour.AckDelay, _timeProvider, _shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        AnswerPrompt(turn, behaviour.StopReason);
    }

    private void AnswerPrompt(Turn turn, string stopReason)
    {
        if (!turn.MarkAnswered())
        {
            return;
        }

        // Free the session first: a client that reads the answer and prompts again at once must not be refused.
        turn.Session.EndTurn(turn);
        Log($"{turn.Session.Id}: prompt answered {stopReason}");
        Enqueue(MessageWriter.Result(turn.PromptId, new PromptResponse(stopReason), AcpJsonContext.Default.PromptResponse));
    }

    private void FailPrompt(Turn turn, string message)
    {
        if (!turn.MarkAnswered())
        {
            return;
        }

        turn.Session.EndTurn(turn);
        Enqueue(MessageWriter.Error(turn.PromptId, JsonRpcErrorCodes.InternalError, message));
    }

    /// <summary>Registers and writes one request of ours (naming <paramref name="sessionId"/>); the returned task completes with its response.</summary>
    private Task<IncomingMessage> SendRequest<T>(AgentSession? toolSession, string? sessionId, string method, T parameters, JsonTypeInfo<T> typeInfo) =>
        SendRequest(toolSession, sessionId, method, parameters, typeInfo, out _);

    /// <summary>Like the overload above, and says which id the request went out with.</summary>
    private Task<IncomingMessage> SendRequest<T>(AgentSession? toolSession, string? sessionId, string method, T parameters, JsonTypeInfo<T> typeInfo, out RpcId requestId)
    {
        var id = Interlocked.Increment(ref _lastRequestId);
        var pending = new PendingRequest(toolSession, sessionId);
        _pending[id] = pending;
        toolSession?.OnToolRequestSent();
        requestId = RpcId.FromNumber(id);
        Enqueue(new Outgoing(MessageWriter.Request(requestId, method, parameters, typeInfo), new SentRequest(requestId, method, sessionId)));
        return pending.Completion.Task;
    }

    private bool TryParams<T>(IncomingMessage request, RpcId id, JsonTypeInfo<T> typeInfo, out T parameters)
    {
        try
        {
            parameters = request.ParamsAs(typeInfo);
            return true;
        }
        catch (JsonException ex)
        {
            Log($"line {request.LineNumber}: bad {request.Method} params: {ex.Message}");
            Enqueue(MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"invalid params for {request.Method}: {ex.Message}"));
            parameters = default!;
            return false;
        }
    }

    private void Enqueue(byte[] line) => Enqueue(new Outgoing(line, null));

    private void Enqueue(Outgoing line)
    {
        if (!_outgoing.Writer.TryWrite(line))
        {
            Log("output closed; dropped a line");
        }
    }

    /// <summary>
    /// Stops the turn and reports its running agent-side tools <c>failed</c> (ACP v1 has no cancelled tool status),
    /// before the caller answers the prompt.
    /// </summary>
    private void StopAndFailTools(Turn turn)
    {
        foreach (var toolCallId in turn.StopWork())
        {
            Log($"{turn.Session.Id}: {toolCallId} stopped by the cancel; reported failed");
            SendUpdateUnchecked(turn.Session, new SessionUpdateBody(SessionUpdateKinds.ToolCallUpdate, ToolCallId: toolCallId, Status: ToolStatusFailed));
        }
    }

    /// <summary>Writes what is queued, then closes the output (<c>close_stdout</c>); nothing is written after.</summary>
    private void CloseOutput()
    {
        _outgoing.Writer.TryWrite(new Outgoing(s_closeOutput, null));
        _outgoing.Writer.TryComplete();
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        var reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    var line = item.Line;
                    if (ReferenceEquals(line, s_closeOutput))
                    {
                        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
                        await CloseOutputStreamAsync().ConfigureAwait(false);
                        _hooks.OutputClosed?.Invoke();
                        _hooks.Account?.OutputClosed(Interlocked.Read(ref _linesWritten));
                        Log("output closed by the script");
                        return;
                    }

                    // Whether the cancel had come is taken before the write begins: the bridge wrote that cancel first.
                    var afterCancel = item.Request is { } sent && _hooks.Account?.CancelReceived(sent.SessionId) == true;
                    await _output.WriteAsync(line, cancellationToken).ConfigureAwait(false);
                    var written = Interlocked.Add(ref _linesWritten, line.AsSpan().Count((byte)'\n'));
                    if (item.Request is { } request)
                    {
                        _hooks.Account?.Sent(written, request.Id, request.Method, request.SessionId, afterCancel);
                    }
                }

                // One flush per burst: a storm's lines go out together, and nothing sits unflushed while we wait.
                await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller stopped the engine.
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer is gone: nobody can read what we would say, so stop reading too.
            Log($"output failed: {ex.Message}");
            _outgoing.Writer.TryComplete();
            await _stopReading.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A line for the write loop; a request of ours says what it is, for the account.</summary>
    private readonly record struct Outgoing(byte[] Line, SentRequest? Request);

    private sealed record SentRequest(RpcId Id, string Method, string? SessionId);

    private void Track(Task task)
    {
        _background.TryAdd(task, 0);
        task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _), _background, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Log(string message)
    {
        try
        {
            _log.WriteLine("fake-agent: " + message);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // stderr is gone; logging must never stop the agent.
        }
    }

    private sealed class PendingRequest(AgentSession? toolSession, string? sessionId)
    {
        /// <summary>The session whose tool counters this request feeds; null for requests that are not tool calls.</summary>
        public AgentSession? ToolSession { get; } = toolSession;

        /// <summary>The session the request named (for the account).</summary>
        public string? SessionId { get; } = sessionId;

        public TaskCompletionSource<IncomingMessage> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
