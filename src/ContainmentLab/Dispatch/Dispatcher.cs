using System.Text.Json;
using ContainmentLab.Events;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>
/// Every agent→host request passes here. For a tool call: resolve the session, take a gate ticket (the
/// <c>dispatched</c> record, written to the audit store before the tool runs: if it cannot be stored the tool does not
/// run), apply the policy, re-check the gate after any await on the user, check the gate again where the tool begins
/// its side effect (<c>began</c>), run the tool under the session's token, and end in exactly one terminal audit
/// record. A request the gate refuses is answered with an error at once, so the agent is never left waiting.
/// </summary>
/// <remarks>
/// Every await here, and what bounds it (G3): <see cref="HandlePermissionAsync"/>, <see cref="DispatchAsync"/> and
/// <see cref="RunAsync"/> only await the steps below. <see cref="ConfirmAsync"/> awaits the user's answer, bounded by
/// <see cref="DispatcherOptions.ConfirmTimeout"/> and by Stop. <see cref="HostTool.InvokeAsync"/> is bounded by the
/// call's token: Stop cancels it, and so does the watchdog at the call's deadline (the bridge always gives one; a host
/// that disables its watchdog leaves a tool that never ends to Stop). <see cref="AskUserAsync"/> awaits the host's
/// dialog, which is told to close (its token) when the confirmation is over; nothing waits on that task.
/// </remarks>
public sealed class Dispatcher
{
    private readonly DispatcherOptions _options;
    private readonly HostToolRegistry _tools;
    private readonly AuditLog _audit;
    private readonly EventHub _events;
    private readonly TimeProvider _time;
    private readonly Func<string, DispatchSession?> _sessions;

    /// <summary>The answer <see cref="HandleAsync"/> returns when it queued its answer itself (through its <c>send</c>).</summary>
    public static readonly byte[] AnsweredAlready = [];

    // Every (session, tool call id) asked for so far. Grows with the calls, like the audit log that records each.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string SessionId, string ToolCallId), byte> _asked = new();

    public Dispatcher(DispatcherOptions options, HostToolRegistry tools, AuditLog audit, EventHub events, TimeProvider timeProvider, Func<string, DispatchSession?> sessions)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(audit);
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(sessions);
        if (options.ConfirmTimeout <= TimeSpan.Zero || options.ConfirmTimeout > TimeSpan.FromDays(49))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ConfirmTimeout, "ConfirmTimeout must be positive and at most 49 days");
        }

        _options = options;
        _tools = tools;
        _audit = audit;
        _events = events;
        _time = timeProvider;
        _sessions = sessions;
    }

    /// <summary>Whether <paramref name="method"/> is an agent→host request this dispatcher answers.</summary>
    public bool Handles(string method) =>
        method is AcpMethods.RequestPermission or AcpMethods.ContainmentTool || _tools.HandlesMethod(method);

    /// <summary>Answers one request; never throws. The result is the response line to write.</summary>
    /// <param name="send">
    /// Queues a line for the agent without blocking (the connection's writer queue). Given, a permission answer other
    /// than <c>cancelled</c> is queued through it under the session gate's lock, so it is on the wire before the
    /// <c>session/cancel</c> of any interrupt that closed the gate after the decision, and never after one that closed it
    /// before (G1); the result is then <see cref="AnsweredAlready"/>, which the caller does not write. Without it the
    /// decision is still linearized with the gate, but the caller writes the answer, in whatever order it likes.
    /// </param>
    public async ValueTask<byte[]> HandleAsync(IncomingMessage request, Func<byte[], bool>? send = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        var id = request.Id ?? throw new ArgumentException("a request has an id", nameof(request));
        try
        {
            if (request.Method == AcpMethods.RequestPermission)
            {
                return await HandlePermissionAsync(request, id, send).ConfigureAwait(false);
            }

            if (!TryResolveTool(request, id, out var tool, out var call, out var session, out var refusal))
            {
                return refusal;
            }

            return await DispatchAsync(tool, call, session, id).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            Violation(null, request.LineNumber, $"'{request.Method}' with invalid params: {ex.Message}");
            return MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"invalid params for '{request.Method}': {ex.Message}");
        }
    }

    private bool TryResolveTool(IncomingMessage request, RpcId id, out HostTool tool, out ToolInvocation call, out DispatchSession session, out byte[] refusal)
    {
        string sessionId;
        string toolCallId;
        JsonElement arguments;
        string toolName;
        if (request.Method == AcpMethods.ContainmentTool)
        {
            var p = ContainmentToolParams.Read(request);
            (sessionId, toolCallId, toolName, arguments) = (p.SessionId, p.ToolCallId, p.Name, p.Arguments ?? default);
        }
        else
        {
            // ACP's fs/terminal methods carry no tool call id: the request id stands in for it.
            if (request.Params.ValueKind != JsonValueKind.Object || !request.Params.TryGetProperty("sessionId", out var s) || s.ValueKind != JsonValueKind.String)
            {
                throw new JsonException("'sessionId' (a string) is required");
            }

            (sessionId, toolName, arguments) = (s.GetString()!, request.Method!, request.Params);
            toolCallId = "rpc-" + id.ToString().Trim('"');
        }

        var requestId = id.ToString();
        tool = null!;
        session = null!;
        call = null!;
        session = _sessions(sessionId)!;

        // Keyed by the session the call resolves to (its id is unique for the host's lifetime), not by the wire's id: a
        // restarted agent hands out the same session and request ids again, and its calls are new calls.
        if (!_asked.TryAdd((session?.Id ?? sessionId, toolCallId), 0))
        {
            // A tool call id names one tool call. A replay of it (a duplicated line, a reused request id) must neither run
            // the tool a second time nor give the call a second terminal record (G8): it is refused, unaudited.
            Violation(session?.Id ?? sessionId, request.LineNumber, $"'{toolName}' repeats tool call '{toolCallId}' of session '{session?.Id ?? sessionId}'; not dispatched again");
            refusal = MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"tool call '{toolCallId}' was already asked for");
            session = null!;
            return false;
        }

        if (session is null)
        {
            // Nothing lost: even a call naming no live session gets its terminal record.
            _audit.Append(AuditKind.Denied, sessionId, toolCallId, toolName, requestId, "unknown session");
            Violation(sessionId, request.LineNumber, $"'{toolName}' names a session that does not exist: '{sessionId}'");
            refusal = MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"unknown session '{sessionId}'");
            return false;
        }

        // From here on the session's own id names it (in records, events, the watchdog), not the wire's.
        sessionId = session.Id;

        // Built once, with its session: every copy of the record is an allocation per dispatched call.
        call = new ToolInvocation(sessionId, toolCallId, toolName, arguments, requestId) { Session = session, Audit = _audit };
        if (!session.AcceptsRequests)
        {
            // The rule for acting in a session: only while it has a running turn. The agent serves all sessions over one
            // connection, so the id it names is all we have; a session with no turn (idle, or its turn answered —
            // cancelled or not) is not one it may act in. Refused, recorded, answered at once.
            Violation(sessionId, request.LineNumber, $"'{toolName}' names session '{sessionId}', which has no running turn");
            if (session.Gate.IsClosed)
            {
                refusal = Skip(call, id, "the session was interrupted and its turn is over");
            }
            else
            {
                refusal = End(call, AuditKind.Denied, "no running turn in the session", MessageWriter.Error(id, JsonRpcErrorCodes.InvalidRequest, $"'{toolName}' refused: session '{sessionId}' has no running turn"));
            }

            tool = null!;
            return false;
        }

        var found = request.Method == AcpMethods.ContainmentTool ? _tools.TryGetExtension(toolName, out tool) : _tools.TryGetMethod(toolName, out tool);
        if (!found)
        {
            _audit.Append(AuditKind.Denied, sessionId, toolCallId, toolName, requestId, "unknown tool");
            _events.Publish(new ToolCompleted(_time.GetUtcNow(), sessionId, toolCallId, toolName, AuditKind.Denied, "unknown tool"));
            refusal = MessageWriter.Error(id, JsonRpcErrorCodes.MethodNotFound, $"unknown host tool '{toolName}'");
            return false;
        }

        try
        {
            tool.Validate(arguments);
        }
        catch (JsonException ex)
        {
            _audit.Append(AuditKind.Failed, sessionId, toolCallId, toolName, requestId, "invalid params: " + ex.Message);
            Violation(sessionId, request.LineNumber, $"'{toolName}' with invalid params: {ex.Message}");
            refusal = MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"invalid params for '{toolName}': {ex.Message}");
            return false;
        }

        refusal = null!;
        return true;
    }

    private async ValueTask<byte[]> DispatchAsync(HostTool tool, ToolInvocation call, DispatchSession session, RpcId id)
    {
        if (!session.Gate.TryPass(_audit, call.SessionId, call.ToolCallId, call.Tool, call.RequestId, out var dispatched))
        {
            return Skip(call, id, "the session was interrupted");
        }

        // G8, fail closed: the tool runs only once its dispatched record is in the store (written to the OS). A store that
        // fails (a full disk) stops every tool, not Stop: the gate and the in-memory log never touch the store.
        var stored = _audit.FlushThrough(dispatched.Seq);
        _events.Publish(new ToolDispatched(_time.GetUtcNow(), call.SessionId, call.ToolCallId, call.Tool, dispatched.Seq));
        if (!stored)
        {
            var why = $"not run: its dispatched record could not be stored in the audit log ({_audit.Failure?.Error ?? "the store failed"})";
            return End(call, AuditKind.Failed, why, MessageWriter.Error(id, JsonRpcErrorCodes.InternalError, $"'{call.Tool}' {why}"));
        }

        var toolClass = tool.Classify(call.Arguments);
        var policy = _options.Policies.For(call.Tool, toolClass);
        switch (policy)
        {
            case ToolPolicy.Deny:
                return End(call, AuditKind.Denied, $"policy denies {toolClass} tools", MessageWriter.Error(id, JsonRpcErrorCodes.Denied, $"'{call.Tool}' is denied by policy"));
            case ToolPolicy.DryRun:
                var wouldDo = tool.Describe(call.Arguments);
                return End(call, AuditKind.DryRun, wouldDo, MessageWriter.Result(id, tool.DryRunResult(wouldDo), AcpJsonContext.Default.JsonElement));
            case ToolPolicy.Confirm:
                var answer = await ConfirmAsync(new ConfirmRequest(call.SessionId, call.ToolCallId, call.Tool, toolClass, tool.Describe(call.Arguments)), session).ConfigureAwait(false);
                if (answer == ConfirmAnswer.Cancelled || session.Gate.IsClosed)
                {
                    // Stop came while the user was looking at the dialog: the answer no longer counts.
                    return End(call, AuditKind.Canceled, "interrupted while awaiting confirmation", MessageWriter.Error(id, JsonRpcErrorCodes.Interrupted, "the session was interrupted"));
                }

                if (answer == ConfirmAnswer.TimedOut)
                {
                    var why = $"no answer from the user within {Seconds(_options.ConfirmTimeout)} s: a timed-out confirmation is a denial";
                    return End(call, AuditKind.Denied, why, MessageWriter.Error(id, JsonRpcErrorCodes.Denied, $"'{call.Tool}' was not confirmed: {why}"));
                }

                if (answer == ConfirmAnswer.No)
                {
                    return End(call, AuditKind.Denied, "the user declined", MessageWriter.Error(id, JsonRpcErrorCodes.Denied, $"the user declined '{call.Tool}'"));
                }

                break;
        }

        return await RunAsync(tool, call, session, id).ConfigureAwait(false);
    }

    private async ValueTask<byte[]> RunAsync(HostTool tool, ToolInvocation call, DispatchSession session, RpcId id)
    {
        // The call's own token: cancelled by the session's interrupt (linked) or by the watchdog (this call only).
        using var callCancellation = CancellationTokenSource.CreateLinkedTokenSource(session.ToolsToken);
        using var watch = _options.Watch?.Start(call.SessionId, call.ToolCallId, call.Tool, callCancellation.Cancel);
        var token = callCancellation.Token;
        try
        {
            token.ThrowIfCancellationRequested();
            var running = watch is null || !tool.ReportsActivity ? call : call with { ReportActivity = watch.ReportActivity };
            if (!tool.BeginsSideEffectItself)
            {
                // The tool's effect starts in InvokeAsync's first synchronous step: this is the moment before it.
                running.BeginSideEffect();
            }

            // Bounded by the token: Stop and the watchdog's deadline cancel it (see the class remarks).
            var result = await tool.InvokeAsync(running, token).ConfigureAwait(false);
            return End(call, AuditKind.Completed, null, MessageWriter.Result(id, result, AcpJsonContext.Default.JsonElement));
        }
        catch (ToolInterruptedException)
        {
            // The gate closed after the call was dispatched and before its effect began (G1): nothing happened.
            return End(call, AuditKind.Canceled, "interrupted before its side effect began", MessageWriter.Error(id, JsonRpcErrorCodes.Interrupted, $"'{call.Tool}' not run: session '{call.SessionId}' was interrupted"));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            var why = watch?.ExpiredReason is { } expired ? "watchdog: " + expired : "interrupted while running";
            return End(call, AuditKind.Canceled, why, MessageWriter.Error(id, JsonRpcErrorCodes.RequestCancelled, $"'{call.Tool}' was cancelled: {why}"));
        }
        catch (ToolDeniedException ex)
        {
            return End(call, AuditKind.Denied, ex.Message, MessageWriter.Error(id, JsonRpcErrorCodes.Denied, ex.Message));
        }
        catch (Exception ex) when (ex is ToolFailedException or IOException or UnauthorizedAccessException or JsonException or OperationCanceledException or InvalidOperationException)
        {
            return End(call, AuditKind.Failed, ex.Message, MessageWriter.Error(id, JsonRpcErrorCodes.ToolFailed, $"'{call.Tool}' failed: {ex.Message}"));
        }
    }

    /// <summary>
    /// The user's answer: Yes or No, Cancelled when the session was interrupted first, TimedOut when nobody answered
    /// within <see cref="DispatcherOptions.ConfirmTimeout"/>. Bounded by that timer and by Stop, whatever the dialog does.
    /// </summary>
    private async ValueTask<ConfirmAnswer> ConfirmAsync(ConfirmRequest request, DispatchSession session)
    {
        if (_options.ConfirmAsync is not { } confirm)
        {
            return ConfirmAnswer.No;
        }

        var (key, answer) = session.RegisterPermission();

        // The dialog's token: Stop (linked), or the end of the confirmation (below): a host closes its dialog on it.
        var dialog = CancellationTokenSource.CreateLinkedTokenSource(session.ToolsToken);
        ConfirmAnswer outcome;
        using (_time.CreateTimer(static s => ((PendingConfirm)s!).TimeOut(), new PendingConfirm(session, key), _options.ConfirmTimeout, Timeout.InfiniteTimeSpan))
        {
            _ = AskUserAsync(confirm, request, session, key, dialog.Token);
            outcome = await answer.ConfigureAwait(false);
        }

        if (outcome != ConfirmAnswer.TimedOut)
        {
            dialog.Dispose();
            return outcome;
        }

        // Told to close here, not on the timer (which could run after the source is gone), and not awaited: the token's
        // callbacks are the host's dialog code, and the call must not wait on them. Disposed once they ran.
        _ = dialog.CancelAsync().ContinueWith(static (_, s) => ((CancellationTokenSource)s!).Dispose(), dialog, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _events.Publish(new ConfirmTimedOut(_time.GetUtcNow(), request.SessionId, request.ToolCallId, request.Tool, _options.ConfirmTimeout));
        return ConfirmAnswer.TimedOut;
    }

    /// <summary>The timer's state: which confirmation to answer TimedOut (the first answer wins).</summary>
    private sealed class PendingConfirm(DispatchSession session, long key)
    {
        public void TimeOut() => session.AnswerPermission(key, ConfirmAnswer.TimedOut);
    }

    private static async Task AskUserAsync(Func<ConfirmRequest, CancellationToken, ValueTask<bool>> confirm, ConfirmRequest request, DispatchSession session, long key, CancellationToken dialogToken)
    {
        // Not bounded here, and need not be: nothing awaits this task. The confirmation it answers is bounded by its
        // timer and by Stop, and the dialog is told to close (dialogToken) when either comes first.
        bool yes;
        try
        {
            yes = await confirm(request, dialogToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (dialogToken.IsCancellationRequested)
        {
            session.AnswerPermission(key, ConfirmAnswer.Cancelled);
            return;
        }
#pragma warning disable CA1031 // A failing dialog is a "no", never a crash of the dispatcher.
        catch (Exception)
#pragma warning restore CA1031
        {
            yes = false;
        }

        session.AnswerPermission(key, yes ? ConfirmAnswer.Yes : ConfirmAnswer.No);
    }

    private async ValueTask<byte[]> HandlePermissionAsync(IncomingMessage request, RpcId id, Func<byte[], bool>? send)
    {
        var p = request.ParamsAs(AcpJsonContext.Default.RequestPermissionRequest);
        var session = _sessions(p.SessionId);
        var toolCallId = p.ToolCall.ToolCallId;
        if (session is null)
        {
            Violation(p.SessionId, request.LineNumber, $"permission request for a session that does not exist: '{p.SessionId}'");
            return MessageWriter.Error(id, JsonRpcErrorCodes.InvalidParams, $"unknown session '{p.SessionId}'");
        }

        if (!session.AcceptsRequests)
        {
            // Same rule as for tool calls: no permission is asked (nor granted) in a session that has no running turn.
            Violation(session.Id, request.LineNumber, $"permission request names session '{p.SessionId}', which has no running turn");
            _audit.Append(AuditKind.Permission, session.Id, toolCallId, p.ToolCall.Title, id.ToString(), "refused: no running turn");
            return MessageWriter.Error(id, JsonRpcErrorCodes.InvalidRequest, $"permission request refused: session '{p.SessionId}' has no running turn");
        }

        _events.Publish(new PermissionRequested(_time.GetUtcNow(), session.Id, toolCallId, p.ToolCall.Title));
        var requestId = id.ToString();
        if (!session.Gate.IsClosed)
        {
            var toolClass = ClassifyKind(p.ToolCall.Kind);
            var policy = _options.Policies.For(p.ToolCall.Title ?? string.Empty, toolClass);
            var allow = p.Options.FirstOrDefault(o => o.Kind is "allow_once" or "allow_always");
            var reject = p.Options.FirstOrDefault(o => o.Kind is "reject_once" or "reject_always");
            var answer = policy switch
            {
                ToolPolicy.Allow => ConfirmAnswer.Yes,
                ToolPolicy.Confirm => await ConfirmAsync(new ConfirmRequest(session.Id, toolCallId, p.ToolCall.Title ?? "permission", toolClass, p.ToolCall.Title ?? toolCallId), session).ConfigureAwait(false),
                _ => ConfirmAnswer.No,
            };
            var option = answer switch
            {
                ConfirmAnswer.Yes => allow,
                ConfirmAnswer.No or ConfirmAnswer.TimedOut => reject,
                _ => null,
            };
            if (option is not null)
            {
                // G1: the selected answer is committed under the gate's lock, queued there too when we can (send): decided
                // before the gate closed, it is on the wire before that interrupt's session/cancel; after, it is not
                // answered at all (cancelled below). The event follows the commit, so whoever reacts to it (say, with
                // Stop) acts after the answer is queued.
                var outcome = PermissionOutcome.Selected(option.OptionId);
                var described = $"{outcome.Outcome}:{outcome.OptionId}";
                var detail = answer == ConfirmAnswer.TimedOut ? $"{described} (no answer within {Seconds(_options.ConfirmTimeout)} s)" : described;
                var line = MessageWriter.Result(id, new RequestPermissionResponse(outcome), AcpJsonContext.Default.RequestPermissionResponse);
                if (session.Gate.TryAnswer(_audit, session.Id, toolCallId, p.ToolCall.Title, requestId, detail, send, line))
                {
                    _events.Publish(new PermissionAnswered(_time.GetUtcNow(), session.Id, toolCallId, described));
                    return send is null ? line : AnsweredAlready;
                }
            }
        }

        // Stop came first (before the request, during the dialog, or between the decision and its commit), or the agent
        // offered no option that fits the answer: 'cancelled' is the one answer that is always allowed.
        _audit.Append(AuditKind.Permission, session.Id, toolCallId, p.ToolCall.Title, requestId, PermissionOutcome.Cancelled.Outcome);
        _events.Publish(new PermissionAnswered(_time.GetUtcNow(), session.Id, toolCallId, PermissionOutcome.Cancelled.Outcome));
        return MessageWriter.Result(id, new RequestPermissionResponse(PermissionOutcome.Cancelled), AcpJsonContext.Default.RequestPermissionResponse);
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    private static ToolClass ClassifyKind(string? kind) => kind switch
    {
        "read" or "search" or "think" or "fetch" => ToolClass.ReadOnly,
        "delete" or "move" => ToolClass.Destructive,
        _ => ToolClass.SideEffect,
    };

    private byte[] Skip(ToolInvocation call, RpcId id, string reason)
    {
        _audit.Append(AuditKind.Skipped, call.SessionId, call.ToolCallId, call.Tool, call.RequestId, reason);
        _events.Publish(new ToolSkipped(_time.GetUtcNow(), call.SessionId, call.ToolCallId, call.Tool, reason));
        return MessageWriter.Error(id, JsonRpcErrorCodes.Interrupted, $"'{call.Tool}' not dispatched: session '{call.SessionId}' was interrupted");
    }

    private byte[] End(ToolInvocation call, AuditKind kind, string? detail, byte[] response)
    {
        _audit.Append(kind, call.SessionId, call.ToolCallId, call.Tool, call.RequestId, detail);
        _events.Publish(new ToolCompleted(_time.GetUtcNow(), call.SessionId, call.ToolCallId, call.Tool, kind, detail));
        return response;
    }

    private void Violation(string? sessionId, long line, string reason) =>
        _events.Publish(new ProtocolViolation(_time.GetUtcNow(), sessionId, line, reason));
}
