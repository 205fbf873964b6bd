using System.Buffers;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.FakeAgent;

/// <summary>Running the steps of a prompt turn.</summary>
public sealed partial class FakeAgentEngine
{
    private static readonly PermissionOption[] s_permissionOptions =
    [
        new("allow", "Allow", "allow_once"),
        new("reject", "Reject", "reject_once"),
    ];

    private async Task RunTurnAsync(Turn turn, PromptScript prompt)
    {
        var token = turn.WorkToken;
        var stopReason = StopReasons.EndTurn;
        var repeat = 1;
        try
        {
            foreach (var step in prompt.Steps)
            {
                token.ThrowIfCancellationRequested();
                if (step is EndStep end)
                {
                    stopReason = end.StopReason;
                    repeat = end.Repeat;
                    break;
                }

                if (!await RunStepAsync(turn, step, token).ConfigureAwait(false))
                {
                    return;
                }
            }

            turn.Send(() => AnswerPrompt(turn, stopReason));
            for (var i = 1; i < repeat; i++)
            {
                // Hostile: the same answer again, a response to a request the host has no longer pending.
                Enqueue(MessageWriter.Result(turn.PromptId, new PromptResponse(stopReason), AcpJsonContext.Default.PromptResponse));
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested || turn.IsStopped || _shutdown.IsCancellationRequested)
        {
            // The cancel behaviour (or shutdown) decides how this turn is answered, if at all. Shutdown is checked on its
            // own: a step waiting on it (a stall) can resume before the turn's linked token has heard of it.
        }
#pragma warning disable CA1031 // A broken turn answers its prompt with an error instead of leaving the client waiting.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log($"{turn.Session.Id}: turn failed: {ex}");
            FailPrompt(turn, "the fake agent's turn failed: " + ex.Message);
        }
    }

    /// <summary>Runs one step; false when the step ended the turn itself (a cancelled permission).</summary>
    private async Task<bool> RunStepAsync(Turn turn, ScriptStep step, CancellationToken cancellationToken)
    {
        switch (step)
        {
            case SayStep say:
                turn.Send(() => SendUpdateUnchecked(turn.Session, SessionUpdates.MessageChunk(say.Text), say.Session));
                return true;
            case ToolStep tool:
                var response = await CallToolAsync(turn, tool.Name, tool.Arguments, tool.ReportToolCall, tool.Session, cancellationToken).ConfigureAwait(false);
                if (response.Error is { } error)
                {
                    Log($"{turn.Session.Id}: {tool.Name} refused: {error.Code} {error.Message}");
                }

                return true;
            case StormStep storm:
                await RunStormAsync(turn, storm, cancellationToken).ConfigureAwait(false);
                return true;
            case PermissionStep permission:
                return await AskPermissionAsync(turn, permission, cancellationToken).ConfigureAwait(false);
            case SleepStep sleep:
                await Task.Delay(sleep.Duration, _timeProvider, cancellationToken).ConfigureAwait(false);
                return true;
            case AgentToolStep agentTool:
                await RunAgentToolAsync(turn, agentTool, cancellationToken).ConfigureAwait(false);
                return true;
            case RawStep raw:
                var line = raw.Newline ? [.. raw.Bytes, (byte)'\n'] : raw.Bytes;
                for (var i = 0; i < raw.Repeat; i++)
                {
                    turn.Send(() => Enqueue(line));
                }

                return true;
            case StallStep stall:
                await StallAsync(turn, stall).ConfigureAwait(false);
                return true;
            case StopReadingStep stopReading:
                StopReading(turn, stopReading);
                return true;
            case CrashStep crash:
                Die(crash.Exit, $"{turn.Session.Id}: crash ({crash.Location})");
                return false;
            case CloseStdoutStep close:
                Log($"{turn.Session.Id}: closing the output ({close.Location}); then {close.Then.ToString().ToLowerInvariant()}");
                if (close.Then == AfterCloseStdout.Hang)
                {
                    _input.Pause();
                }

                CloseOutput();

                // The turn ends here without an answer: the prompt can never be answered on a closed output.
                return false;
            case SpawnStep spawn:
                await SpawnAsync(turn, spawn, cancellationToken).ConfigureAwait(false);
                return true;
            default:
                throw new NotSupportedException($"the engine cannot run a {step.GetType().Name} ({step.Location})");
        }
    }

    /// <summary>
    /// An agent-side tool: tool_call, a heartbeat every interval, completed at the end. Every wait is measured from the
    /// start on the TimeProvider, so heartbeats fall exactly on multiples of the interval however late a wait resumes.
    /// </summary>
    private async Task RunAgentToolAsync(Turn turn, AgentToolStep tool, CancellationToken cancellationToken)
    {
        var session = turn.Session;
        var toolCallId = session.NextToolCallId();

        // The clock starts before the tool_call goes out: a client that reacts to it at once and moves (fake) time on
        // must not find the tool's clock started later than it saw the tool start.
        var started = _timeProvider.GetTimestamp();
        turn.SendToolStart(toolCallId, () => SendUpdateUnchecked(session, new SessionUpdateBody(
            SessionUpdateKinds.ToolCall, ToolCallId: toolCallId, Title: tool.Title, Kind: tool.Kind, Status: "in_progress")));
        var beats = 0;
        while (true)
        {
            TimeSpan? nextBeat = tool.Heartbeat is { } interval ? interval * (beats + 1) : null;
            var due = (nextBeat, tool.Duration) switch
            {
                ({ } beat, { } end) => beat < end ? beat : end,
                ({ } beat, null) => beat,
                (null, { } end) => end,
                _ => Timeout.InfiniteTimeSpan,
            };
            if (due == Timeout.InfiniteTimeSpan)
            {
                // Hung: no heartbeat, no end. Only a cancel (or shutdown) gets it out of here.
                await Task.Delay(Timeout.InfiniteTimeSpan, _timeProvider, cancellationToken).ConfigureAwait(false);
            }

            var wait = due - _timeProvider.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, _timeProvider, cancellationToken).ConfigureAwait(false);
            }

            if (due == tool.Duration)
            {
                break;
            }

            beats++;
            var heartbeat = HeartbeatOutput(beats, due);
            turn.Send(() => SendUpdateUnchecked(session, new SessionUpdateBody(
                SessionUpdateKinds.ToolCallUpdate, ToolCallId: toolCallId, Status: "in_progress", RawOutput: heartbeat)));
        }

        turn.SendToolEnd(toolCallId, () => SendUpdateUnchecked(session, new SessionUpdateBody(
            SessionUpdateKinds.ToolCallUpdate, ToolCallId: toolCallId, Status: "completed")));
    }

    /// <summary>
    /// A heartbeat's payload, as rawOutput (valid ACP, and machine-readable for tests: <c>{heartbeat, elapsedMs}</c>).
    /// </summary>
    private static JsonElement HeartbeatOutput(int beat, TimeSpan elapsed)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("heartbeat", beat);
            writer.WriteNumber("elapsedMs", (long)elapsed.TotalMilliseconds);
            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// Silent for the duration: the turn writes nothing, and a cancel that arrives meanwhile is acted on only when the
    /// stall ends. Not cut short by the turn's work token; only shutdown ends it early.
    /// </summary>
    private async Task StallAsync(Turn turn, StallStep stall)
    {
        Log($"{turn.Session.Id}: stalls for {(stall.Duration is { } d ? d.ToString() : "ever")} ({stall.Location})");
        turn.BeginStall();
        await Task.Delay(stall.Duration ?? Timeout.InfiniteTimeSpan, _timeProvider, _shutdown.Token).ConfigureAwait(false);
        if (turn.EndStall())
        {
            ApplyCancel(turn);
        }
    }

    /// <summary>Pauses the input; the timer that resumes it is armed before this returns. The turn goes on at once.</summary>
    private void StopReading(Turn turn, StopReadingStep step)
    {
        Log($"{turn.Session.Id}: stops reading input for {(step.Duration is { } d ? d.ToString() : "ever")} ({step.Location})");
        _input.Pause();
        if (step.Duration is { } duration)
        {
            Track(ResumeReadingAsync(duration));
        }
    }

    private async Task ResumeReadingAsync(TimeSpan duration)
    {
        try
        {
            await Task.Delay(duration, _timeProvider, _shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Log("reading input again");
        _input.Resume();
    }

    private async Task SpawnAsync(Turn turn, SpawnStep spawn, CancellationToken cancellationToken)
    {
        if (_hooks.Spawn is not { } start)
        {
            Log($"{turn.Session.Id}: spawn refused: an in-process engine starts no processes ({spawn.Location})");
            return;
        }

        foreach (var process in await start(spawn, cancellationToken).ConfigureAwait(false))
        {
            Log(LingerMode.Spawned(process));
        }
    }

    /// <summary>
    /// Sends one tool request and awaits its answer (a result or an error: both count as answered). Everything up to the
    /// first await runs synchronously, so the request is on its way when this returns — the storm relies on that.
    /// </summary>
    private async Task<IncomingMessage> CallToolAsync(Turn turn, string name, JsonElement? arguments, bool report, string? namedSession, CancellationToken cancellationToken)
    {
        var session = turn.Session;
        var sessionId = namedSession ?? session.Id;
        var toolCallId = session.NextToolCallId();
        Task<IncomingMessage>? response = null;
        turn.Send(() =>
        {
            if (report)
            {
                SendUpdateUnchecked(session, new SessionUpdateBody(
                    SessionUpdateKinds.ToolCall, ToolCallId: toolCallId, Title: name, Kind: ToolKind(name), Status: "in_progress", RawInput: arguments));
            }

            response = name.Contains('/', StringComparison.Ordinal)
                ? SendRequest(session, sessionId, name, AcpParams(session, sessionId, name, arguments), AcpJsonContext.Default.JsonElement)
                : SendRequest(session, sessionId, AcpMethods.ContainmentTool, new ContainmentToolRequest(sessionId, toolCallId, name, arguments), AcpJsonContext.Default.ContainmentToolRequest);
        });

        var message = await response!.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (report)
        {
            var status = message.Error is null ? "completed" : "failed";
            SendUpdate(turn, new SessionUpdateBody(SessionUpdateKinds.ToolCallUpdate, ToolCallId: toolCallId, Status: status));
        }

        return message;
    }

    /// <summary>
    /// Count calls, at most Concurrency outstanding: the next one goes out as soon as any outstanding one is answered.
    /// Arguments are drawn in send order from the seed, so they do not depend on the order of the answers.
    /// </summary>
    private async Task RunStormAsync(Turn turn, StormStep storm, CancellationToken cancellationToken)
    {
        var arguments = new StormArguments(storm, turn.Session.Cwd);

        // Not disposed: answers that arrive after a cancel still release slots, and SemaphoreSlim holds nothing
        // unmanaged unless its wait handle is used.
#pragma warning disable CA2000
        var slots = new SemaphoreSlim(storm.Concurrency, storm.Concurrency);
#pragma warning restore CA2000
        for (var i = 0; i < storm.Count; i++)
        {
            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            var (tool, args) = arguments.Next(i);
            var call = CallToolAsync(turn, tool, args, storm.ReportToolCalls, null, cancellationToken);
            _ = call.ContinueWith(static (_, state) => ((SemaphoreSlim)state!).Release(), slots, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        // Holding every slot means every call has been answered.
        for (var i = 0; i < storm.Concurrency; i++)
        {
            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> AskPermissionAsync(Turn turn, PermissionStep permission, CancellationToken cancellationToken)
    {
        var session = turn.Session;
        var request = new RequestPermissionRequest(
            permission.Session ?? session.Id,
            new ToolCallRef(session.NextToolCallId(), permission.Title, permission.Kind, "pending"),
            s_permissionOptions);
        Task<IncomingMessage>? pending = null;
        turn.Send(() =>
        {
            pending = SendRequest(null, request.SessionId, AcpMethods.RequestPermission, request, AcpJsonContext.Default.RequestPermissionRequest, out var id);
            if (permission.SelfAnswer is { } option)
            {
                // Hostile: a response carrying our own request's id. Ids are per direction, so to the host this answers
                // its request number id (if it has one pending), never our permission request.
                Log($"{session.Id}: answers its own permission request {id} with '{option}'");
                Enqueue(MessageWriter.Result(id, new RequestPermissionResponse(PermissionOutcome.Selected(option)), AcpJsonContext.Default.RequestPermissionResponse));
            }
        });
        var response = await pending!.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (response.Error is { } error)
        {
            Log($"{session.Id}: permission request failed ({error.Code} {error.Message}); going on");
            return true;
        }

        RequestPermissionResponse answer;
        try
        {
            answer = response.ResultAs(AcpJsonContext.Default.RequestPermissionResponse);
        }
        catch (JsonException ex)
        {
            Log($"{session.Id}: unreadable permission answer ({ex.Message}); going on");
            return true;
        }

        if (answer.Outcome.Outcome == PermissionOutcome.Cancelled.Outcome)
        {
            // ACP: the client answers pending permission requests 'cancelled' when the user cancels the turn; stop
            // as under honour whatever on_cancel says.
            Log($"{session.Id}: permission cancelled; ending the turn");
            StopAndFailTools(turn);
            AnswerPrompt(turn, StopReasons.Cancelled);
            return false;
        }

        Log($"{session.Id}: permission answered {answer.Outcome.OptionId}");
        return true;
    }

    private void SendUpdate(Turn turn, SessionUpdateBody update) =>
        turn.Send(() => SendUpdateUnchecked(turn.Session, update));

    private void SendUpdateUnchecked(AgentSession session, SessionUpdateBody update, string? namedSession = null) =>
        Enqueue(MessageWriter.Notification(AcpMethods.SessionUpdate, new SessionNotification(namedSession ?? session.Id, update), AcpJsonContext.Default.SessionNotification));

    /// <summary>Params of an ACP method named in a script: the arguments plus sessionId, a relative fs path made absolute under the cwd.</summary>
    private static JsonElement AcpParams(AgentSession session, string sessionId, string method, JsonElement? arguments)
    {
        var resolvePath = method.StartsWith("fs/", StringComparison.Ordinal);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("sessionId", sessionId);
            if (arguments is { ValueKind: JsonValueKind.Object } args)
            {
                foreach (var property in args.EnumerateObject())
                {
                    if (property.NameEquals("sessionId"))
                    {
                        continue;
                    }

                    if (resolvePath && property.NameEquals("path") && property.Value.ValueKind == JsonValueKind.String)
                    {
                        var path = property.Value.GetString()!;
                        writer.WriteString("path", Path.IsPathFullyQualified(path) ? path : Path.GetFullPath(path, session.Cwd));
                        continue;
                    }

                    property.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private static string ToolKind(string name) => name switch
    {
        AcpMethods.ReadTextFile => "read",
        AcpMethods.WriteTextFile => "edit",
        StormArguments.HttpTool => "fetch",
        _ when name.StartsWith("terminal/", StringComparison.Ordinal) => "execute",
        _ => "other",
    };
}
