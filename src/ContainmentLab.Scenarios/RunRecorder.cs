using System.Text;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Events;

namespace ContainmentLab.Scenarios;

/// <summary>
/// Sees everything of a run: events (from the hub), wire lines (as the bridge's <see cref="IWireTap"/>) and actions;
/// keeps what the checks need, writes the transcript, and wakes whoever waits for an event condition.
/// </summary>
internal sealed class RunRecorder : IWireTap, IDisposable
{
    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly TranscriptWriter? _transcript;
    private readonly Lock _lock = new();
    private readonly List<RecordedEvent> _events = [];
    private readonly List<(TimeSpan, string, string)> _toolActivity = [];
    private readonly List<AgentRequestRecord> _agentRequests = [];
    private readonly Dictionary<string, int> _hostResponses = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="startTimestamp">The run's start on <paramref name="time"/>, when it began before this recorder (a kill_host host runs on its runner's clock).</param>
    public RunRecorder(TimeProvider time, string? transcriptPath, long? startTimestamp = null)
    {
        _time = time;
        _start = startTimestamp ?? time.GetTimestamp();
        _transcript = transcriptPath is null ? null : new TranscriptWriter(transcriptPath);
    }

    /// <summary>Sees what the recorder sees, as it comes (a kill_host host streams it to its runner).</summary>
    public IRunObserver? Observer { get; init; }

    public TimeSpan Elapsed => _time.GetElapsedTime(_start);

    public IReadOnlyList<RecordedEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<(TimeSpan At, string SessionId, string ToolCallId)> ToolActivity
    {
        get
        {
            lock (_lock)
            {
                return [.. _toolActivity];
            }
        }
    }

    /// <summary>The requests the agent wrote whose id could be read (G9: each must be answered).</summary>
    public IReadOnlyList<AgentRequestRecord> AgentRequests
    {
        get
        {
            lock (_lock)
            {
                return [.. _agentRequests];
            }
        }
    }

    /// <summary>How many responses the host wrote for each id (an id's JSON text).</summary>
    public IReadOnlyDictionary<string, int> HostResponses
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<string, int>(_hostResponses, StringComparer.Ordinal);
            }
        }
    }

    public void OnEvent(ContainmentEvent containmentEvent)
    {
        var at = Elapsed;
        TaskCompletionSource changed;
        lock (_lock)
        {
            _events.Add(new RecordedEvent(at, containmentEvent));
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        Observer?.OnEvent(at, containmentEvent);
        _transcript?.WriteEvent(at, containmentEvent);
        changed.TrySetResult();
    }

    public void OnAction(TimelineAction action, string? sessionId, TimeSpan at)
    {
        Observer?.OnAction(at, action, sessionId);
        _transcript?.WriteAction(at, action, sessionId);
    }

    public void Received(long lineNumber, ReadOnlySpan<byte> line)
    {
        var at = Elapsed;
        Observer?.OnReceived(at, lineNumber, line);
        _transcript?.WriteLine(at, "in", line);
        if (WireShapeOf(line) is { IsRequest: true, Id: { } requestId, Method: { } method })
        {
            lock (_lock)
            {
                _agentRequests.Add(new AgentRequestRecord(at, lineNumber, requestId, method));
            }
        }

        // Activity of an agent-side tool (G4): a session/update about a tool call. Cheap pre-check, then parse.
        if (line.IndexOf("tool_call_update"u8) < 0)
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(line.ToArray());
            if (document.RootElement.TryGetProperty("params", out var p)
                && p.TryGetProperty("sessionId", out var session)
                && p.TryGetProperty("update", out var update)
                && update.TryGetProperty("toolCallId", out var id))
            {
                lock (_lock)
                {
                    _toolActivity.Add((at, session.GetString() ?? string.Empty, id.GetString() ?? string.Empty));
                }
            }
        }
        catch (JsonException)
        {
            // A malformed line is the bridge's business (ProtocolViolation), not the recorder's.
        }
    }

    public void Sent(ReadOnlySpan<byte> line)
    {
        var text = line.EndsWith("\n"u8) ? line[..^1] : line;
        var at = Elapsed;
        Observer?.OnSent(at, line);
        _transcript?.WriteLine(at, "out", text);
        if (WireShapeOf(text) is { IsRequest: false, Method: null, Id: { } answered })
        {
            lock (_lock)
            {
                _hostResponses[answered] = _hostResponses.GetValueOrDefault(answered) + 1;
            }
        }
    }

    /// <summary>
    /// The top-level id (as JSON text: <c>7</c>, <c>"a"</c>) and method of a line, read as far as it is readable;
    /// requests have both. Unreadable lines yield what came before the fault.
    /// </summary>
    internal static (bool IsRequest, string? Id, string? Method) WireShapeOf(ReadOnlySpan<byte> line)
    {
        string? id = null;
        string? method = null;
        if (line.IsEmpty || line[0] != (byte)'{')
        {
            return (false, null, null);
        }

        var reader = new Utf8JsonReader(line);
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth != 1 || reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }

                if (reader.ValueTextEquals("id"u8) && reader.Read())
                {
                    id = reader.TokenType switch
                    {
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        JsonTokenType.String => JsonSerializer.Serialize(reader.GetString()),
                        _ => null,
                    };
                }
                else if (reader.ValueTextEquals("method"u8) && reader.Read() && reader.TokenType == JsonTokenType.String)
                {
                    method = reader.GetString();
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // What was read before the fault stands: the bridge answers a request under an id it could recover.
        }

        return (id is not null && method is not null, id, method);
    }

    /// <summary>Waits until <paramref name="holds"/> is true of the events so far; false when <paramref name="timeout"/> passes first.</summary>
    public async Task<bool> WaitForAsync(Func<IReadOnlyList<RecordedEvent>, bool> holds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetTimestamp();
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (holds(_events))
                {
                    return true;
                }

                changed = _changed.Task;
            }

            var left = timeout - _time.GetElapsedTime(deadline);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await changed.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Checked once more at the top, then false.
            }
        }
    }

    public void Dispose() => _transcript?.Dispose();

    internal static string Decode(ReadOnlySpan<byte> line) => Encoding.UTF8.GetString(line);
}
